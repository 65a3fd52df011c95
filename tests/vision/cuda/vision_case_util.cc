#include "tests/vision/cuda/vision_case_util.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/safetensors.h"
#include "tests/model/reference_case.h"

namespace qwen::testing {

core::Tensor ConcatRows(const std::vector<core::Tensor>& parts) {
  int64_t rows = 0;
  const int64_t dim = parts.empty() ? 0 : parts[0].dim(1);
  for (const core::Tensor& p : parts) rows += p.dim(0);
  core::Tensor out = core::Tensor::Zeros({rows, dim}, core::DType::kF32);
  float* dst = out.data<float>();
  for (const core::Tensor& p : parts) {
    const core::Tensor f = p.ToF32();
    EXPECT_EQ(f.dim(1), dim);
    std::memcpy(dst, f.data<float>(), f.nbytes());
    dst += f.numel();
  }
  return out;
}

std::vector<VisionCaseInput> ReadVisionCaseInputs(const std::filesystem::path& case_dir) {
  std::vector<VisionCaseInput> out;
  const std::filesystem::path inputs = case_dir / "inputs.safetensors";
  const std::filesystem::path expected = case_dir / "expected.safetensors";
  auto file = core::SafetensorsFile::Open(inputs);
  if (!file.ok()) {
    ADD_FAILURE() << file.status();
    return out;
  }
  for (const auto& [kind, pixels_name, grid_name, expected_name] :
       {std::tuple{"image", "pixel_values", "image_grid_thw", "image_embeds"},
        std::tuple{"video", "pixel_values_videos", "video_grid_thw", "video_embeds"}}) {
    if (!(*file)->Has(pixels_name)) continue;
    VisionCaseInput in;
    in.name = kind;
    in.pixels = ReadCaseTensor(inputs, pixels_name).ToF32();
    auto grids = vision::GridsFromTensor(ReadCaseTensor(inputs, grid_name));
    if (!grids.ok()) {
      ADD_FAILURE() << grids.status();
      continue;
    }
    in.grids = *grids;
    in.expected = ReadCaseTensor(expected, expected_name).ToF32();
    out.push_back(std::move(in));
  }
  if (out.size() == 2) {
    VisionCaseInput mixed;
    mixed.name = "mixed";
    mixed.pixels = ConcatRows({out[0].pixels, out[1].pixels});
    mixed.grids = out[0].grids;
    mixed.grids.insert(mixed.grids.end(), out[1].grids.begin(), out[1].grids.end());
    mixed.expected = ConcatRows({out[0].expected, out[1].expected});
    out.push_back(std::move(mixed));
  }
  return out;
}

}  // namespace qwen::testing

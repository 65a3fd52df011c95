// Parity with Hugging Face on the committed pre-processing reference cases
// (tests/reference/image_preprocess_* and video_preprocess_*, written by
// tools/reference/make_preprocess_cases.py; shared/REFERENCE_CASES.md): identical grids, frame
// indices and timestamps, and pixel values within one 8-bit level (1/127.5) at >= 99% of elements.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/vision/preprocess/test_util.h"
#include "vision_service/preprocess/image_preprocessor.h"
#include "vision_service/preprocess/video_preprocessor.h"

namespace qwen::vision {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::vector<fs::path> CaseDirs(const std::string& prefix) {
  std::vector<fs::path> dirs;
  const fs::path root = testing_util::SourcePath("tests/reference");
  for (const auto& e : fs::directory_iterator(root)) {
    if (e.is_directory() && e.path().filename().string().rfind(prefix, 0) == 0)
      dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

json ReadJson(const fs::path& p) {
  json j = json::parse(testing_util::ReadFileOrDie(p.string()), nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << p;
  return j;
}

// One 8-bit level of the normalised values, with a little slack for fp32 rounding.
constexpr float kLevel = 1.0f / 127.5f + 1e-6f;

void ComparePixels(const std::string& name, const core::Tensor& got, const core::Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape()) << name;
  ASSERT_EQ(want.dtype(), core::DType::kF32) << name;
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  int64_t within = 0, exact = 0;
  float max_diff = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const float d = std::fabs(g[i] - w[i]);
    within += d <= kLevel;
    exact += d == 0;
    max_diff = std::max(max_diff, d);
  }
  std::printf("%s: %lld elements, %lld exact, %lld within one level, max |diff| %g\n", name.c_str(),
              static_cast<long long>(want.numel()), static_cast<long long>(exact),
              static_cast<long long>(within), max_diff);
  EXPECT_GE(within * 100, want.numel() * 99) << name;
}

std::vector<int64_t> I64(const core::Tensor& t) {
  auto c = t.To(core::DType::kI64);
  EXPECT_TRUE(c.ok());
  return std::vector<int64_t>(c->data<int64_t>(), c->data<int64_t>() + c->numel());
}

TEST(PreprocessReferenceCasesTest, ImagePreprocess) {
  const std::vector<fs::path> dirs = CaseDirs("image_preprocess_");
  ASSERT_GE(dirs.size(), 10u)
      << "image_preprocess_* cases missing: run tools/reference/make_preprocess_cases.py";
  for (const fs::path& dir : dirs) {
    SCOPED_TRACE(dir.filename().string());
    const json c = ReadJson(dir / "case.json");
    ASSERT_EQ(c.value("kind", ""), "image_preprocess");
    auto cfg = LoadImageProcessorConfig(dir / c.value("config", "preprocessor_config.json"));
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    auto got = PreprocessImageFile(dir / c.at("image").get<std::string>(), *cfg);
    ASSERT_TRUE(got.ok()) << got.status();
    auto expected = core::SafetensorsFile::Open(dir / "expected.safetensors");
    ASSERT_TRUE(expected.ok()) << expected.status();
    auto grid = (*expected)->Get("image_grid_thw");
    auto pv = (*expected)->Get("pixel_values");
    ASSERT_TRUE(grid.ok() && pv.ok());
    EXPECT_EQ(I64(*grid), (std::vector<int64_t>{got->grid.t, got->grid.h, got->grid.w}));
    ComparePixels(dir.filename().string(), got->pixel_values, *pv);
  }
}

TEST(PreprocessReferenceCasesTest, VideoPreprocessFromFrames) {
  const std::vector<fs::path> dirs = CaseDirs("video_preprocess_");
  ASSERT_GE(dirs.size(), 3u)
      << "video_preprocess_* cases missing: run tools/reference/make_preprocess_cases.py";
  for (const fs::path& dir : dirs) {
    SCOPED_TRACE(dir.filename().string());
    const json c = ReadJson(dir / "case.json");
    ASSERT_EQ(c.value("kind", ""), "video_preprocess");
    auto cfg = LoadVideoProcessorConfig(dir / c.value("config", "video_preprocessor_config.json"));
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    auto inputs = core::SafetensorsFile::Open(dir / c.value("frames", "inputs.safetensors"));
    ASSERT_TRUE(inputs.ok()) << inputs.status();
    auto frames_t = (*inputs)->Get("frames");
    ASSERT_TRUE(frames_t.ok());
    ASSERT_EQ(frames_t->rank(), 4);
    ASSERT_EQ(frames_t->dim(3), 3);
    std::vector<RgbImage> frames;
    const int64_t n = frames_t->dim(0), h = frames_t->dim(1), w = frames_t->dim(2);
    for (int64_t t = 0; t < n; ++t) {
      RgbImage f = RgbImage::Create(h, w).value();
      const uint8_t* src = frames_t->data<uint8_t>() + t * h * w * 3;
      std::copy(src, src + h * w * 3, f.pixels.begin());
      frames.push_back(std::move(f));
    }
    ASSERT_EQ(c.at("total_frames").get<int64_t>(), n);
    std::optional<double> fps;
    if (!c.at("fps").is_null()) fps = c.at("fps").get<double>();
    auto got = PreprocessVideoFrames(frames, fps, *cfg);
    ASSERT_TRUE(got.ok()) << got.status();

    auto expected = core::SafetensorsFile::Open(dir / "expected.safetensors");
    ASSERT_TRUE(expected.ok()) << expected.status();
    auto grid = (*expected)->Get("video_grid_thw");
    auto idx = (*expected)->Get("frame_indices");
    auto ts = (*expected)->Get("timestamps");
    auto pv = (*expected)->Get("pixel_values_videos");
    ASSERT_TRUE(grid.ok() && idx.ok() && ts.ok() && pv.ok());
    EXPECT_EQ(I64(*grid), (std::vector<int64_t>{got->grid.t, got->grid.h, got->grid.w}));
    EXPECT_EQ(I64(*idx), got->frame_indices);
    ASSERT_EQ(ts->numel(), static_cast<int64_t>(got->timestamps.size()));
    ASSERT_EQ(ts->numel(), got->grid.t);
    for (int64_t g = 0; g < ts->numel(); ++g) {
      EXPECT_EQ(ts->data<float>()[g], static_cast<float>(got->timestamps[g])) << "group " << g;
    }
    ComparePixels(dir.filename().string(), got->pixel_values_videos, *pv);
  }
}

}  // namespace
}  // namespace qwen::vision

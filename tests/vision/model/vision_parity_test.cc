// Parity of the CPU vision encoder with Hugging Face transformers on every committed `vision` and
// `multimodal` case: image_embeds / video_embeds within 1e-3 of the output scale.
#include <filesystem>

#include "gtest/gtest.h"
#include "tests/vision/model/multimodal_cases.h"
#include "vision_service/model/vision_model.h"

namespace qwen::testing {
namespace {

constexpr float kRelTolerance = 1e-3f;

class VisionParityTest : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(VisionParityTest, EmbeddingsMatchTransformers) {
  const std::filesystem::path dir = GetParam();
  auto model = vision::VisionModel::Load(dir / "model");
  ASSERT_TRUE(model.ok()) << model.status();
  auto inputs = core::SafetensorsFile::Open(dir / "inputs.safetensors");
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  int checked = 0;
  for (const auto& [pixels_name, grid_name, expected_name] :
       {std::tuple{"pixel_values", "image_grid_thw", "image_embeds"},
        std::tuple{"pixel_values_videos", "video_grid_thw", "video_embeds"}}) {
    if (!(*inputs)->Has(pixels_name)) continue;
    const core::Tensor pixels = ReadCaseTensor(dir / "inputs.safetensors", pixels_name);
    auto grids = vision::GridsFromTensor(ReadCaseTensor(dir / "inputs.safetensors", grid_name));
    ASSERT_TRUE(grids.ok()) << grids.status();
    const core::Tensor want = ReadCaseTensor(dir / "expected.safetensors", expected_name);
    auto got = (*model)->Forward(vision::VisionContext{}, pixels, *grids);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->embeds.shape(), want.shape()) << expected_name;
    ASSERT_EQ(got->item_offsets.size(), grids->size() + 1);
    EXPECT_EQ(got->item_offsets.back(), want.dim(0));
    const float scale = MaxAbs(want.data<float>(), want.numel());
    EXPECT_GT(scale, 0.1f) << expected_name << " is degenerate";
    EXPECT_LE(MaxAbsDiff(got->embeds.data<float>(), want.data<float>(), want.numel()),
              kRelTolerance * scale)
        << expected_name << ", scale " << scale;
    ++checked;
  }
  EXPECT_GT(checked, 0) << "the case has neither pixel_values nor pixel_values_videos";
}

INSTANTIATE_TEST_SUITE_P(Reference, VisionParityTest,
                         ::testing::ValuesIn(FindMultimodalCases({"vision", "multimodal"})),
                         CaseName);
// Until the reference cases are committed the list above is empty.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(VisionParityTest);

}  // namespace
}  // namespace qwen::testing

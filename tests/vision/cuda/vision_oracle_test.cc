// The CPU bf16 oracle that sizes the CUDA encoder's tolerances (vision_bf16_oracle.h), checked on
// the CPU (runs everywhere): with rounding off it is the CPU VisionModel bit for bit, so its op
// order is the model's; with rounding on, its distance to Hugging Face's fp32 embeddings (the
// bf16 noise each GPU parity test's bound is derived from) is non-zero and plausible.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <vector>

#include "tests/vision/cuda/vision_bf16_oracle.h"
#include "tests/vision/cuda/vision_case_util.h"
#include "tests/vision/cuda/vision_tolerance.h"
#include "tests/vision/model/multimodal_cases.h"
#include "tests/vision/model/tiny_vision_checkpoint.h"
#include "vision_service/model/vision_model.h"

namespace qwen::testing {
namespace {

// Bitwise equality of two f32 tensors of the same shape.
void ExpectIdentical(const core::Tensor& got, const core::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  int64_t differing = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    if (std::memcmp(got.data<float>() + i, want.data<float>() + i, sizeof(float)) != 0) {
      ++differing;
    }
  }
  EXPECT_EQ(differing, 0) << what << ": " << differing << " of " << got.numel() << " values differ";
}

class VisionOracleCaseTest : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(VisionOracleCaseTest, UnroundedOracleIsTheCpuModel) {
  const std::filesystem::path dir = GetParam();
  auto model = vision::VisionModel::Load(dir / "model");
  ASSERT_TRUE(model.ok()) << model.status();
  auto oracle = VisionBf16Oracle::Load(dir / "model", /*round_bf16=*/false);
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  for (const VisionCaseInput& in : ReadVisionCaseInputs(dir)) {
    auto want = (*model)->Forward(vision::VisionContext{}, in.pixels, in.grids);
    ASSERT_TRUE(want.ok()) << want.status();
    auto got = (*oracle)->Embeds(in.pixels, in.grids);
    ASSERT_TRUE(got.ok()) << got.status();
    ExpectIdentical(*got, want->embeds, in.name);
  }
}

TEST_P(VisionOracleCaseTest, Bf16NoiseIsPlausible) {
  const std::filesystem::path dir = GetParam();
  auto oracle = VisionBf16Oracle::Load(dir / "model", /*round_bf16=*/true);
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  for (const VisionCaseInput& in : ReadVisionCaseInputs(dir)) {
    auto got = (*oracle)->Embeds(in.pixels, in.grids);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->shape(), in.expected.shape()) << in.name;
    const float scale = MaxAbs(in.expected.data<float>(), in.expected.numel());
    const EmbedTolerance tol = MakeEmbedTolerance(
        scale, MaxAbsDiffOrInf(got->data<float>(), in.expected.data<float>(), got->numel()));
    std::cout << "[          ] " << dir.filename().string() << " " << in.name << ": "
              << tol.Summary() << "\n";
    EXPECT_GT(tol.noise, 0.0f) << in.name << ": the oracle does not round";
    EXPECT_LE(tol.noise, kMaxPlausibleNoise) << in.name << ": " << tol.Summary();
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, VisionOracleCaseTest,
                         ::testing::ValuesIn(FindMultimodalCases({"vision", "multimodal"})),
                         CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(VisionOracleCaseTest);

// The synthetic mixed batch of the GPU tests (cuda_vision_model_test.cc) on a head dim of 72.
TEST(VisionOracleTest, UnroundedOracleIsTheCpuModelOnAMixedBatch) {
  const vision::testing::TinyVisionCheckpoint ckpt =
      vision::testing::WriteTinyVisionCheckpoint("oracle_mixed", {.depth = 2,
                                                                  .hidden = 144,
                                                                  .heads = 2,
                                                                  .inter = 200,
                                                                  .patch = 4,
                                                                  .pos_side = 6,
                                                                  .out_hidden = 96,
                                                                  .seed = 11});
  const std::vector<vision::GridThw> grids = {{1, 16, 16}, {3, 4, 8}, {1, 2, 2}, {1, 6, 10}};
  int64_t rows = 0;
  for (const vision::GridThw& g : grids) rows += g.num_patches();
  const core::Tensor pixels = vision::testing::RandomPixels(rows, ckpt.patch_dim(), 5);
  auto model = vision::VisionModel::Load(ckpt.dir);
  ASSERT_TRUE(model.ok()) << model.status();
  auto oracle = VisionBf16Oracle::Load(ckpt.dir, /*round_bf16=*/false);
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  auto want = (*model)->Forward(vision::VisionContext{}, pixels, grids);
  ASSERT_TRUE(want.ok()) << want.status();
  auto got = (*oracle)->Embeds(pixels, grids);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectIdentical(*got, want->embeds, "mixed batch");
  std::filesystem::remove_all(ckpt.dir);
}

}  // namespace
}  // namespace qwen::testing

// Rejected inputs and checkpoints of the vision encoder: clear InvalidArgument / NotFound /
// FailedPrecondition errors naming the problem, never a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/vision/model/tiny_vision_checkpoint.h"
#include "vision_service/model/vision_model.h"

namespace qwen::vision {
namespace {

using testing::RandomPixels;
using testing::TinyVisionSpec;
using testing::WriteTinyVisionCheckpoint;

void ExpectError(const absl::Status& s, absl::StatusCode code,
                 const std::vector<std::string>& fragments) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), code) << s;
  for (const std::string& f : fragments) {
    EXPECT_NE(std::string(s.message()).find(f), std::string::npos)
        << "message \"" << s.message() << "\" lacks \"" << f << "\"";
  }
}

class VisionBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ckpt_ = WriteTinyVisionCheckpoint("bad_input", TinyVisionSpec{});
    auto m = VisionModel::Load(ckpt_.dir);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = *std::move(m);
  }
  void TearDown() override { std::filesystem::remove_all(ckpt_.dir); }
  absl::Status Forward(const core::Tensor& pixels, const std::vector<GridThw>& grids) {
    return model_->Forward(VisionContext{}, pixels, grids).status();
  }
  testing::TinyVisionCheckpoint ckpt_;
  std::unique_ptr<VisionModel> model_;
};

TEST_F(VisionBadInputTest, GridNotDivisibleByMergeSize) {
  ExpectError(Forward(RandomPixels(6, 24, 1), {{1, 3, 2}}), absl::StatusCode::kInvalidArgument,
              {"item 0", "h=3", "multiples of spatial_merge_size 2"});
  ExpectError(Forward(RandomPixels(10, 24, 1), {{1, 2, 2}, {1, 2, 3}}),
              absl::StatusCode::kInvalidArgument, {"item 1", "w=3"});
}

TEST_F(VisionBadInputTest, GridProductsMustCoverThePixelRows) {
  ExpectError(Forward(RandomPixels(12, 24, 1), {{1, 2, 2}, {1, 2, 2}}),
              absl::StatusCode::kInvalidArgument, {"covers 8", "pixel_values has 12"});
  ExpectError(Forward(RandomPixels(4, 24, 1), {{1, 2, 2}, {2, 2, 2}}),
              absl::StatusCode::kInvalidArgument, {"at least 12", "item 1", "has 4"});
}

TEST_F(VisionBadInputTest, NonPositiveOrHugeExtentsAndNoItems) {
  ExpectError(Forward(RandomPixels(4, 24, 1), {{0, 2, 2}}), absl::StatusCode::kInvalidArgument,
              {"item 0", ">= 1"});
  ExpectError(Forward(RandomPixels(4, 24, 1), {{1, -2, -2}}), absl::StatusCode::kInvalidArgument,
              {">= 1"});
  ExpectError(Forward(RandomPixels(4, 24, 1), {{1, int64_t{1} << 40, 2}}),
              absl::StatusCode::kInvalidArgument, {"maximum"});
  ExpectError(Forward(RandomPixels(4, 24, 1), {}), absl::StatusCode::kInvalidArgument,
              {"no images or videos"});
}

TEST_F(VisionBadInputTest, PixelShapeAndDtype) {
  ExpectError(Forward(RandomPixels(4, 23, 1), {{1, 2, 2}}), absl::StatusCode::kInvalidArgument,
              {"[num_patches, 24]", "[4, 23]"});
  ExpectError(Forward(RandomPixels(4, 24, 1).Reshaped({1, 4, 24}), {{1, 2, 2}}),
              absl::StatusCode::kInvalidArgument, {"[1, 4, 24]"});
  const core::Tensor ints = core::Tensor::Zeros({4, 24}, core::DType::kI32);
  ExpectError(Forward(ints, {{1, 2, 2}}), absl::StatusCode::kInvalidArgument, {"I32"});
}

TEST(VisionGridTest, GridsFromTensorChecksShapeAndDtype) {
  auto ok = GridsFromTensor(core::Tensor::FromVector<int32_t>({1, 2, 4, 3, 6, 8}, {2, 3}));
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[1].t, 3);
  EXPECT_EQ((*ok)[1].w, 8);
  ExpectError(GridsFromTensor(core::Tensor::FromVector<int64_t>({1, 2, 4, 3}, {2, 2})).status(),
              absl::StatusCode::kInvalidArgument, {"[num_items, 3]", "[2, 2]"});
  ExpectError(GridsFromTensor(core::Tensor::FromVector<float>({1, 2, 4}, {1, 3})).status(),
              absl::StatusCode::kInvalidArgument, {"I64 or I32", "F32"});
}

TEST(VisionGridTest, PlanListsFramesAndMergeOrderCoordinates) {
  const std::vector<GridThw> grids = {{2, 2, 4}, {1, 4, 2}};
  auto plan = PlanVisionBatch(grids, 24, 2);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->cu_seqlens, (std::vector<int64_t>{0, 8, 16, 24}));
  EXPECT_EQ(plan->patch_offsets, (std::vector<int64_t>{0, 16, 24}));
  EXPECT_EQ(plan->merged_offsets, (std::vector<int64_t>{0, 4, 6}));
  // 2x4 frame in 2x2 block order: block (0,0) = (0,0) (0,1) (1,0) (1,1), block (0,1) = (0,2)...
  const std::vector<int64_t> rows = {0, 0, 1, 1, 0, 0, 1, 1};
  const std::vector<int64_t> cols = {0, 1, 0, 1, 2, 3, 2, 3};
  for (int64_t f = 0; f < 2; ++f) {
    EXPECT_EQ(std::vector<int64_t>(plan->rows.begin() + 8 * f, plan->rows.begin() + 8 * f + 8),
              rows);
    EXPECT_EQ(std::vector<int64_t>(plan->cols.begin() + 8 * f, plan->cols.begin() + 8 * f + 8),
              cols);
  }
  // 4x2 image: blocks (0,0) then (1,0).
  EXPECT_EQ(std::vector<int64_t>(plan->rows.begin() + 16, plan->rows.end()),
            (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(std::vector<int64_t>(plan->cols.begin() + 16, plan->cols.end()),
            (std::vector<int64_t>{0, 1, 0, 1, 0, 1, 0, 1}));
}

TEST(VisionLoadTest, MissingExtraAndMisshapedTensors) {
  const TinyVisionSpec spec;
  {
    auto c =
        WriteTinyVisionCheckpoint("missing", spec, {}, {"model.visual.blocks.1.attn.qkv.bias"});
    ExpectError(VisionModel::Load(c.dir).status(), absl::StatusCode::kNotFound,
                {"model.visual.blocks.1.attn.qkv.bias"});
    std::filesystem::remove_all(c.dir);
  }
  {
    // A third block although depth is 2 (or a DeepStack merger): the config does not explain it.
    auto c = WriteTinyVisionCheckpoint(
        "extra", spec,
        {{"model.visual.blocks.2.norm1.weight", core::Tensor::Zeros({16}, core::DType::kF32)}});
    ExpectError(VisionModel::Load(c.dir).status(), absl::StatusCode::kInvalidArgument,
                {"does not explain", "model.visual.blocks.2.norm1.weight"});
    std::filesystem::remove_all(c.dir);
  }
  {
    auto c = WriteTinyVisionCheckpoint(
        "shape", spec,
        {{"model.visual.merger.linear_fc1.bias", core::Tensor::Zeros({63}, core::DType::kF32)}});
    ExpectError(VisionModel::Load(c.dir).status(), absl::StatusCode::kInvalidArgument,
                {"model.visual.merger.linear_fc1.bias"});
    std::filesystem::remove_all(c.dir);
  }
}

TEST(VisionLoadTest, ConfigWithoutVisionOrWithUnsupportedActivation) {
  auto c = WriteTinyVisionCheckpoint("config", TinyVisionSpec{});
  nlohmann::json j = nlohmann::json::parse(std::ifstream(c.dir / "config.json"));
  j["vision_config"]["hidden_act"] = "quick_gelu";
  std::ofstream(c.dir / "config.json") << j.dump();
  ExpectError(VisionModel::Load(c.dir).status(), absl::StatusCode::kInvalidArgument,
              {"quick_gelu", "gelu_pytorch_tanh"});
  j.erase("vision_config");
  std::ofstream(c.dir / "config.json") << j.dump();
  ExpectError(VisionModel::Load(c.dir).status(), absl::StatusCode::kFailedPrecondition,
              {"no vision_config"});
  std::filesystem::remove_all(c.dir);
}

}  // namespace
}  // namespace qwen::vision

// The CPU vision encoder (vision_service/model) on a tiny random checkpoint: against an independent
// raster-order double reference, frame/item isolation, and batch vs one-at-a-time.
#include "vision_service/model/vision_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/vision/model/tiny_vision_checkpoint.h"

namespace qwen::vision {
namespace {

using testing::RandomPixels;
using testing::ReferenceEncoder;
using testing::TinyVisionCheckpoint;
using testing::TinyVisionSpec;
using testing::WriteTinyVisionCheckpoint;

int64_t TotalPatches(const std::vector<GridThw>& grids) {
  int64_t n = 0;
  for (const GridThw& g : grids) n += g.num_patches();
  return n;
}

class VisionModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ckpt_ = WriteTinyVisionCheckpoint("model_test", TinyVisionSpec{});
    auto m = VisionModel::Load(ckpt_.dir);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = *std::move(m);
  }
  void TearDown() override { std::filesystem::remove_all(ckpt_.dir); }

  VisionOutput Run(const core::Tensor& pixels, const std::vector<GridThw>& grids) {
    auto out = model_->Forward(VisionContext{}, pixels, grids);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *std::move(out) : VisionOutput{};
  }

  TinyVisionCheckpoint ckpt_;
  std::unique_ptr<VisionModel> model_;
};

TEST_F(VisionModelTest, MatchesRasterOrderDoubleReference) {
  // A 4x4 position table: a 4x6 image (h same, w up), a 2x2 image (down) and a 3-frame 6x2 video
  // (h up, w down), in one batch.
  const std::vector<GridThw> grids = {{1, 4, 6}, {1, 2, 2}, {3, 6, 2}};
  const core::Tensor pixels = RandomPixels(TotalPatches(grids), ckpt_.patch_dim(), 101);
  const VisionOutput out = Run(pixels, grids);
  const std::vector<double> want = ReferenceEncoder(ckpt_, pixels, grids);
  ASSERT_EQ(out.embeds.numel(), static_cast<int64_t>(want.size()));
  ASSERT_EQ(out.embeds.dim(1), ckpt_.spec.out_hidden);
  EXPECT_EQ(out.item_offsets, (std::vector<int64_t>{0, 6, 7, 16}));
  double scale = 0.0, worst = 0.0;
  for (double v : want) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(out.embeds.data<float>()[i] - want[i]));
  }
  // fp32 vs double through 2 blocks and the merger: ~1e-6 relative; a wrong merge order, patch
  // coordinate, interpolation or GELU variant moves outputs by >= 1e-2 of the scale.
  EXPECT_LE(worst, 1e-4 * scale) << "scale " << scale;
  EXPECT_GT(scale, 0.1);
}

TEST_F(VisionModelTest, FramesAndItemsDoNotSeeEachOther) {
  // Video of 3 frames (4x4 patches each) then an image; change only frame 1's pixels.
  const std::vector<GridThw> grids = {{3, 4, 4}, {1, 2, 4}};
  const core::Tensor a = RandomPixels(TotalPatches(grids), ckpt_.patch_dim(), 102);
  core::Tensor b = a.Clone();
  const int64_t pd = ckpt_.patch_dim();
  for (int64_t i = 16 * pd; i < 32 * pd; ++i) b.data<float>()[i] = -b.data<float>()[i];
  const VisionOutput oa = Run(a, grids), ob = Run(b, grids);
  const int64_t d = ckpt_.spec.out_hidden;
  ASSERT_EQ(oa.embeds.dim(0), 14);  // 3 frames x 4 merged tokens + 2
  for (int64_t row = 0; row < 14; ++row) {
    const bool in_frame1 = row >= 4 && row < 8;
    double diff = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      diff = std::max(diff, double(std::abs(oa.embeds.data<float>()[row * d + i] -
                                            ob.embeds.data<float>()[row * d + i])));
    }
    if (in_frame1) {
      EXPECT_GT(diff, 1e-3) << "frame 1 output row " << row << " must change";
    } else {
      EXPECT_EQ(diff, 0.0) << "output row " << row << " changed although only frame 1 did";
    }
  }
}

TEST_F(VisionModelTest, BatchEqualsItemsOneAtATime) {
  const std::vector<GridThw> grids = {{1, 2, 6}, {2, 4, 2}, {1, 6, 6}};
  const int64_t pd = ckpt_.patch_dim();
  const core::Tensor pixels = RandomPixels(TotalPatches(grids), pd, 103);
  const VisionOutput batch = Run(pixels, grids);
  int64_t row = 0;
  for (size_t i = 0; i < grids.size(); ++i) {
    const int64_t n = grids[i].num_patches();
    const VisionOutput one = Run(pixels.Slice(row, row + n), {grids[i]});
    const int64_t d = one.embeds.dim(1);
    const int64_t begin = batch.item_offsets[i], end = batch.item_offsets[i + 1];
    ASSERT_EQ(one.embeds.dim(0), end - begin) << "item " << i;
    const float* b = batch.embeds.data<float>() + begin * d;
    // Every op is row- or segment-local with a fixed operation order, so the values are equal.
    EXPECT_TRUE(std::equal(b, b + (end - begin) * d, one.embeds.data<float>())) << "item " << i;
    row += n;
  }
}

TEST_F(VisionModelTest, Bf16PixelsAreWidenedToF32) {
  const std::vector<GridThw> grids = {{1, 2, 2}};
  const core::Tensor f32 = RandomPixels(4, ckpt_.patch_dim(), 104);
  auto bf16 = f32.To(core::DType::kBF16);
  ASSERT_TRUE(bf16.ok());
  const VisionOutput from_bf16 = Run(*bf16, grids);
  const VisionOutput from_rounded = Run(bf16->ToF32(), grids);
  EXPECT_TRUE(std::equal(from_bf16.embeds.data<float>(),
                         from_bf16.embeds.data<float>() + from_bf16.embeds.numel(),
                         from_rounded.embeds.data<float>()));
}

}  // namespace
}  // namespace qwen::vision

#include "vision_service/preprocess/patchify.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tests/vision/preprocess/test_util.h"
#include "vision_service/preprocess/image_preprocessor.h"

namespace qwen::vision {
namespace {

using testing_util::MakeImage;

// Raw pixel values pass through when rescale and normalise are off.
ImageProcessorConfig RawConfig() {
  ImageProcessorConfig cfg;
  cfg.do_rescale = false;
  cfg.do_normalize = false;
  cfg.do_resize = false;
  return cfg;
}

// Pixel value encoding (c, y, x) of frame t: R = y, G = x, B = (y * 7 + x * 3 + 50 * t) % 256.
uint8_t Code(int64_t y, int64_t x, int c, int64_t t) {
  if (c == 0) return static_cast<uint8_t>(y);
  if (c == 1) return static_cast<uint8_t>(x);
  return static_cast<uint8_t>((y * 7 + x * 3 + 50 * t) % 256);
}

// Checks every element of pixel_values against the MODEL.md §4 layout formula.
void CheckLayout(const core::Tensor& pv, const GridThw& grid, int64_t n_frames, int64_t p,
                 int64_t m, int64_t tp) {
  const int64_t dim = 3 * tp * p * p;
  ASSERT_EQ(pv.rank(), 2);
  ASSERT_EQ(pv.dim(0), grid.t * grid.h * grid.w);
  ASSERT_EQ(pv.dim(1), dim);
  const float* d = pv.data<float>();
  for (int64_t n = 0; n < pv.dim(0); ++n) {
    // n = (((ti * h/m + bh) * w/m + bw) * m + mh) * m + mw
    const int64_t mw = n % m, mh = (n / m) % m, bw = (n / (m * m)) % (grid.w / m),
                  bh = (n / (m * m * (grid.w / m))) % (grid.h / m), ti = n / (grid.h * grid.w);
    const int64_t prow = bh * m + mh, pcol = bw * m + mw;
    for (int64_t j = 0; j < dim; ++j) {
      // j = ((c * tp + t) * p + y) * p + x
      const int64_t x = j % p, y = (j / p) % p, t = (j / (p * p)) % tp, c = j / (p * p * tp);
      const int64_t frame = std::min(ti * tp + t, n_frames - 1);  // padding repeats the last frame
      const uint8_t want = Code(prow * p + y, pcol * p + x, static_cast<int>(c), frame);
      ASSERT_EQ(d[n * dim + j], static_cast<float>(want)) << "row " << n << " col " << j;
    }
  }
}

TEST(PatchifyTest, ImageRowsAreMergeBlocksAndColumnsAreCTYX) {
  const ImageProcessorConfig cfg = RawConfig();
  RgbImage img = MakeImage(64, 96, [](int64_t y, int64_t x, int c) { return Code(y, x, c, 0); });
  GridThw grid;
  auto pv = NormalizeAndPatchify({&img}, cfg, &grid);
  ASSERT_TRUE(pv.ok()) << pv.status();
  EXPECT_EQ(grid, (GridThw{1, 4, 6}));
  // An image is one frame duplicated in time: both temporal slots hold frame 0.
  CheckLayout(*pv, grid, 1, 16, 2, 2);
  // Spot checks by hand: row 2 is (bh 0, bw 0, mh 1, mw 0) = patch row 1, patch column 0, and its
  // column 0 is (c 0, t 0, y 0, x 0): red = y = 16. Row 4 starts the next merge block (patch
  // column 2); its column 512 is (c 1, t 0, y 0, x 0): green = x = 32.
  EXPECT_EQ(pv->data<float>()[2 * 1536], 16.0f);
  EXPECT_EQ(pv->data<float>()[4 * 1536 + 512], 32.0f);
}

TEST(PatchifyTest, VideoFramesArePaddedWithTheLastFrame) {
  const ImageProcessorConfig cfg = RawConfig();
  std::vector<RgbImage> frames;
  for (int t = 0; t < 5; ++t)
    frames.push_back(
        MakeImage(32, 64, [t](int64_t y, int64_t x, int c) { return Code(y, x, c, t); }));
  std::vector<const RgbImage*> ptrs;
  for (const RgbImage& f : frames) ptrs.push_back(&f);
  GridThw grid;
  auto pv = NormalizeAndPatchify(ptrs, cfg, &grid);
  ASSERT_TRUE(pv.ok()) << pv.status();
  EXPECT_EQ(grid, (GridThw{3, 2, 4}));
  CheckLayout(*pv, grid, 5, 16, 2, 2);
}

TEST(PatchifyTest, OtherPatchAndMergeSizes) {
  ImageProcessorConfig cfg = RawConfig();
  cfg.patch_size = 4;
  cfg.merge_size = 3;
  cfg.temporal_patch_size = 3;
  std::vector<RgbImage> frames;
  for (int t = 0; t < 4; ++t)
    frames.push_back(
        MakeImage(24, 36, [t](int64_t y, int64_t x, int c) { return Code(y, x, c, t); }));
  std::vector<const RgbImage*> ptrs;
  for (const RgbImage& f : frames) ptrs.push_back(&f);
  GridThw grid;
  auto pv = NormalizeAndPatchify(ptrs, cfg, &grid);
  ASSERT_TRUE(pv.ok()) << pv.status();
  EXPECT_EQ(grid, (GridThw{2, 6, 9}));
  CheckLayout(*pv, grid, 4, 4, 3, 3);
}

TEST(PatchifyTest, NormalisationIsHfFusedForm) {
  const ImageProcessorConfig cfg;  // shipped: (x - 127.5) / 127.5
  const auto lut = NormalizationTables(cfg);
  for (int v = 0; v < 256; ++v) {
    EXPECT_EQ(lut[0][v], (static_cast<float>(v) - 127.5f) / 127.5f);
  }
  EXPECT_EQ(lut[1][0], -1.0f);
  EXPECT_EQ(lut[2][255], 1.0f);
  ImageProcessorConfig clip = cfg;
  clip.image_mean = {0.48145466, 0.4578275, 0.40821073};
  clip.image_std = {0.26862954, 0.26130258, 0.27577711};
  const auto l2 = NormalizationTables(clip);
  const float inv = static_cast<float>(1.0 / clip.rescale_factor);
  EXPECT_EQ(l2[1][200], (200.0f - 0.4578275f * inv) / (0.26130258f * inv));
  EXPECT_NEAR(l2[1][200], (200.0 / 255.0 - 0.4578275) / 0.26130258, 1e-5);
  ImageProcessorConfig rescale_only = cfg;
  rescale_only.do_normalize = false;
  EXPECT_EQ(NormalizationTables(rescale_only)[0][51], 51.0f * static_cast<float>(1.0 / 255.0));
}

TEST(PatchifyTest, RejectsSizesNotMultipleOfFactor) {
  const ImageProcessorConfig cfg = RawConfig();
  RgbImage img = MakeImage(48, 64, [](int64_t, int64_t, int) { return 0; });
  GridThw grid;
  auto pv = NormalizeAndPatchify({&img}, cfg, &grid);
  ASSERT_FALSE(pv.ok());
  EXPECT_EQ(pv.status().code(), absl::StatusCode::kInvalidArgument);
  // Through the image pipeline with do_resize false, too.
  EXPECT_FALSE(PreprocessImage(img, cfg).ok());
  RgbImage other = MakeImage(32, 64, [](int64_t, int64_t, int) { return 0; });
  RgbImage small = MakeImage(32, 32, [](int64_t, int64_t, int) { return 0; });
  EXPECT_FALSE(NormalizeAndPatchify({&other, &small}, cfg, &grid).ok());
}

TEST(ImagePreprocessorTest, ShippedConfigEndToEnd) {
  // 20x30 -> 224x320 (ceil branch), grid (1, 14, 20), 70 placeholder tokens.
  RgbImage img = testing_util::NoiseImage(20, 30, 3);
  auto r = PreprocessImage(img, ImageProcessorConfig{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->resized, (ResizedSize{224, 320}));
  EXPECT_EQ(r->grid, (GridThw{1, 14, 20}));
  EXPECT_EQ(r->num_tokens, 70);
  EXPECT_EQ(r->pixel_values.dim(0), 280);
  EXPECT_EQ(r->pixel_values.dim(1), 1536);
  for (int64_t i = 0; i < r->pixel_values.numel(); ++i) {
    const float v = r->pixel_values.data<float>()[i];
    ASSERT_TRUE(v >= -1.0f && v <= 1.0f);
    // Every value is one of the 256 levels (p - 127.5) / 127.5.
    const float level = v * 127.5f + 127.5f;
    ASSERT_NEAR(level, std::round(level), 1e-3);
  }
}

}  // namespace
}  // namespace qwen::vision

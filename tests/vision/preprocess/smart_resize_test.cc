#include "vision_service/preprocess/smart_resize.h"

#include <cmath>
#include <cstdint>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qwen::vision {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMin = 65536, kMax = 16777216;  // shipped image limits (MODEL.md §6.1)

TEST(PyRoundTest, HalfToEven) {
  EXPECT_EQ(PyRound(0.5), 0);
  EXPECT_EQ(PyRound(1.5), 2);
  EXPECT_EQ(PyRound(2.5), 2);
  EXPECT_EQ(PyRound(3.5), 4);
  EXPECT_EQ(PyRound(-0.5), 0);
  EXPECT_EQ(PyRound(-1.5), -2);
  EXPECT_EQ(PyRound(2.4999999999999996), 2);
  EXPECT_EQ(PyRound(2.5000000000000004), 3);
  EXPECT_EQ(PyRound(7.0), 7);
  EXPECT_EQ(PyRound(62.5), 62);  // 2000 / 32
}

TEST(SmartResizeImageTest, HalfToEvenAtExactHalf) {
  // 80 / 32 = 2.5 -> 2 (std::round would give 3 -> 96); 48 / 32 = 1.5 -> 2; 112 / 32 = 3.5 -> 4.
  auto r = SmartResizeImage(80, 48, 32, 1024, kMax);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (ResizedSize{64, 64}));
  r = SmartResizeImage(112, 2000, 32, 1024, kMax);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (ResizedSize{128, 1984}));  // 62.5 -> 62
}

TEST(SmartResizeImageTest, KnownValuesFromHf) {
  // Values HF's processor produced for the committed reference cases.
  EXPECT_EQ(SmartResizeImage(20, 30, 32, kMin, kMax).value(),
            (ResizedSize{224, 320}));  // ceil branch
  EXPECT_EQ(SmartResizeImage(1500, 2000, 32, 4096, 50000).value(),
            (ResizedSize{192, 256}));  // floor branch
  EXPECT_EQ(SmartResizeImage(333, 517, 32, 4096, 40000).value(), (ResizedSize{160, 224}));
  EXPECT_EQ(SmartResizeImage(97, 61, 32, 4096, 65536).value(), (ResizedSize{96, 64}));
  EXPECT_EQ(SmartResizeImage(40, 44, 32, 4096, 65536).value(), (ResizedSize{64, 96}));
  // In range: plain rounding.
  EXPECT_EQ(SmartResizeImage(1080, 1920, 32, kMin, kMax).value(), (ResizedSize{1088, 1920}));
  // Tiny images (round to 0) go through the ceil branch.
  EXPECT_EQ(SmartResizeImage(1, 1, 32, kMin, kMax).value(), (ResizedSize{256, 256}));
}

TEST(SmartResizeImageTest, Properties) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int64_t> side(1, 6000);
  for (int i = 0; i < 20000; ++i) {
    int64_t h = side(rng), w = side(rng);
    if (i % 3 == 0) w = std::max<int64_t>(1, h / (1 + i % 150));  // some extreme aspect ratios
    const double ratio = static_cast<double>(std::max(h, w)) / static_cast<double>(std::min(h, w));
    auto r = SmartResizeImage(h, w, 32, kMin, kMax);
    if (ratio > 200) {
      ASSERT_FALSE(r.ok()) << h << "x" << w;
      continue;
    }
    ASSERT_TRUE(r.ok()) << h << "x" << w << ": " << r.status();
    EXPECT_EQ(r->height % 32, 0) << h << "x" << w;
    EXPECT_EQ(r->width % 32, 0) << h << "x" << w;
    EXPECT_GE(r->height, 32);
    EXPECT_GE(r->width, 32);
    const int64_t px = r->height * r->width;
    // The floor branch never exceeds max_pixels unless clamped to one 32-pixel row/column.
    if (r->height > 32 && r->width > 32) {
      EXPECT_LE(px, kMax) << h << "x" << w;
    }
    EXPECT_GE(px, kMin) << h << "x" << w;
    // Aspect ratio preserved to within the rounding to 32 (plus the 32-pixel floor).
    const double got = static_cast<double>(r->width) / static_cast<double>(r->height);
    const double want = static_cast<double>(w) / static_cast<double>(h);
    if (r->height > 32 && r->width > 32) {
      const double hh = static_cast<double>(r->height), ww = static_cast<double>(r->width);
      EXPECT_NEAR(std::log(got / want), 0.0, std::log(hh / (hh - 32)) + std::log(ww / (ww - 32)))
          << h << "x" << w;
    }
  }
}

TEST(SmartResizeImageTest, RejectsAspectRatioOver200) {
  auto r = SmartResizeImage(10, 2001, 32, kMin, kMax);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("aspect ratio must be at most 200, got 200.1"));
  EXPECT_THAT(r.status().message(), HasSubstr("2001x10"));
  EXPECT_TRUE(SmartResizeImage(10, 2000, 32, kMin, kMax).ok());  // exactly 200 is allowed
}

TEST(SmartResizeImageTest, RejectsZeroSize) {
  auto r = SmartResizeImage(0, 10, 32, kMin, kMax);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("10x0 (width x height) must be positive"));
}

TEST(SmartResizeVideoTest, KnownValues) {
  constexpr int64_t kVMin = 4096, kVMax = 25165824;
  // Frames below the factor are scaled up first (20x50 * 1.6 = 32x80); t_bar = round(2.5)*2 = 4.
  EXPECT_EQ(SmartResizeVideo(5, 20, 50, 2, 32, kVMin, kVMax).value(), (ResizedSize{32, 64}));
  EXPECT_EQ(SmartResizeVideo(7, 54, 96, 2, 32, kVMin, kVMax).value(), (ResizedSize{64, 96}));
  EXPECT_EQ(SmartResizeVideo(4, 32, 32, 2, 32, kVMin, kVMax).value(), (ResizedSize{32, 32}));
  // TRAP: beta uses n = 5, not t_bar = 4 (t_bar would give 32x96).
  EXPECT_EQ(SmartResizeVideo(5, 48, 96, 2, 32, 4096, 20000).value(), (ResizedSize{32, 64}));
  // TRAP: the branch test uses t_bar: 13 frames -> t_bar = round(6.5)*2 = 12; 12*64*64 = 49152 <=
  // 50000 keeps 64x64, while n = 13 (53248) would have taken the floor branch.
  EXPECT_EQ(SmartResizeVideo(13, 60, 80, 2, 32, 4096, 50000).value(), (ResizedSize{64, 64}));
}

TEST(SmartResizeVideoTest, Errors) {
  auto r = SmartResizeVideo(1, 64, 64, 2, 32, 4096, 25165824);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("video has 1 sampled frames; at least temporal_patch_size = 2"));
  r = SmartResizeVideo(4, 1, 300, 2, 32, 4096, 25165824);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("aspect ratio must be at most 200, got 300"));
}

}  // namespace
}  // namespace qwen::vision

// BilinearPosEmbed (kernels/vision_pos_embed.h, MODEL.md 4.2) against an independent double
// transcription of F.interpolate(mode="bilinear", align_corners=True) in raster order, reordered
// into merge-block order by explicit loops.
#include "kernels/vision_pos_embed.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::MaxAbs;
using ::qwen::kernels::testing::Normal;

// The table as an image [dim, S, S] resized to [dim, h, w] with align_corners=True: output pixel
// (r, c) samples source coordinates (r (S-1)/(h-1), c (S-1)/(w-1)) (0 for a length-1 axis).
std::vector<double> InterpolateRaster(const std::vector<float>& table, int64_t side, int64_t dim,
                                      int64_t h, int64_t w) {
  std::vector<double> out(static_cast<size_t>(h * w * dim));
  for (int64_t r = 0; r < h; ++r) {
    const double sy = h == 1 ? 0.0 : static_cast<double>(r) * (side - 1) / (h - 1);
    const int64_t y0 = static_cast<int64_t>(std::floor(sy));
    const int64_t y1 = std::min(y0 + 1, side - 1);
    const double dy = sy - y0;
    for (int64_t c = 0; c < w; ++c) {
      const double sx = w == 1 ? 0.0 : static_cast<double>(c) * (side - 1) / (w - 1);
      const int64_t x0 = static_cast<int64_t>(std::floor(sx));
      const int64_t x1 = std::min(x0 + 1, side - 1);
      const double dx = sx - x0;
      for (int64_t i = 0; i < dim; ++i) {
        auto e = [&](int64_t y, int64_t x) {
          return static_cast<double>(table[(y * side + x) * dim + i]);
        };
        out[(r * w + c) * dim + i] = (1 - dy) * (1 - dx) * e(y0, x0) + (1 - dy) * dx * e(y0, x1) +
                                     dy * (1 - dx) * e(y1, x0) + dy * dx * e(y1, x1);
      }
    }
  }
  return out;
}

void ExpectMatches(int64_t side, int64_t dim, int64_t h, int64_t w, int64_t m) {
  const std::vector<float> table = Normal(side * side * dim, 51 + h * 7 + w);
  std::vector<float> out(static_cast<size_t>(h * w * dim), -5.0f);
  BilinearPosEmbed(table.data(), out.data(),
                   {.side = side, .dim = dim, .height = h, .width = w, .merge_size = m});
  const std::vector<double> raster = InterpolateRaster(table, side, dim, h, w);
  const double tol = 4e-6 * MaxAbs(table);  // a 4-term fp32 weighted sum with fp32 weights
  int64_t n = 0;
  for (int64_t bh = 0; bh < h / m; ++bh) {
    for (int64_t bw = 0; bw < w / m; ++bw) {
      for (int64_t mh = 0; mh < m; ++mh) {
        for (int64_t mw = 0; mw < m; ++mw, ++n) {
          const int64_t r = bh * m + mh, c = bw * m + mw;
          for (int64_t i = 0; i < dim; ++i) {
            ASSERT_NEAR(out[n * dim + i], raster[(r * w + c) * dim + i], tol)
                << "grid " << h << "x" << w << " patch (" << r << ", " << c << ") dim " << i;
          }
        }
      }
    }
  }
  ASSERT_EQ(n, h * w);
}

TEST(BilinearPosEmbedTest, UpsampleInMergeOrder) { ExpectMatches(8, 19, 12, 20, 2); }
TEST(BilinearPosEmbedTest, DownsampleInMergeOrder) { ExpectMatches(8, 19, 4, 6, 2); }
TEST(BilinearPosEmbedTest, MixedUpAndDownAndLargeTable) { ExpectMatches(48, 5, 14, 98, 2); }
TEST(BilinearPosEmbedTest, RasterOrderAndLengthOneAxis) {
  ExpectMatches(8, 7, 1, 5, 1);
  ExpectMatches(8, 7, 6, 1, 1);
}

TEST(BilinearPosEmbedTest, SameSizeIsTheTableExactly) {
  // h = w = S: every source coordinate is an integer, so the output is the table bit for bit
  // (raster order with merge 1).
  const int64_t side = 6, dim = 9;
  const std::vector<float> table = Normal(side * side * dim, 52);
  std::vector<float> out(table.size());
  BilinearPosEmbed(table.data(), out.data(),
                   {.side = side, .dim = dim, .height = side, .width = side, .merge_size = 1});
  EXPECT_EQ(out, table);
}

TEST(BilinearPosEmbedTest, CornersMapOntoTableCorners) {
  // align_corners=True: patch (0, 0) is table row 0 and patch (h-1, w-1) is the last table row.
  const int64_t side = 8, dim = 3, h = 10, w = 4, m = 2;
  const std::vector<float> table = Normal(side * side * dim, 53);
  std::vector<float> out(static_cast<size_t>(h * w * dim));
  BilinearPosEmbed(table.data(), out.data(),
                   {.side = side, .dim = dim, .height = h, .width = w, .merge_size = m});
  for (int64_t i = 0; i < dim; ++i) {
    EXPECT_EQ(out[i], table[i]);
    EXPECT_EQ(out[(h * w - 1) * dim + i], table[(side * side - 1) * dim + i]);
  }
}

}  // namespace
}  // namespace qwen::kernels::cpu

// ApplyMRope (kernels/rope.h, MODEL.md 2.6) against hand-computed numbers and a double-precision
// direct formula with the T/H/W slot tables written out literally.
#include "kernels/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::kUnitRoundoff;
using ::qwen::kernels::testing::Uniform;

enum Axis { T = 0, H = 1, W = 2 };

TEST(MRopeTest, HandComputedTinyExample) {
  // D = 5, R = 4, theta = 100: inv_freq = [1, 100^(-1/2) = 0.1]. Section [1, 1, 0]: slot 0 -> T,
  // slot 1 -> H (1 % 3 == 1 and 1 < 3), no W slot. Positions (T, H, W) = (2, 10, 7), so the
  // angles are 2 (slot 0, pair (0, 2)) and 10 * 0.1 = 1 (slot 1, pair (1, 3)); dim 4 passes.
  //   y0 = x0 cos2 - x2 sin2, y2 = x2 cos2 + x0 sin2, y1 = x1 cos1 - x3 sin1,
  //   y3 = x3 cos1 + x1 sin1, y4 = x4   (values computed by hand with a calculator).
  // Two heads, head_stride 6: the element between the heads must stay untouched.
  std::vector<float> x = {1, 2, 3, 4, 5, 99, -1, 0.5f, 2, -3, 7};
  const int64_t positions[3] = {2, 10, 7};
  ApplyMRope(x.data(), positions,
             {.num_tokens = 1,
              .num_heads = 2,
              .head_dim = 5,
              .rotary_dim = 4,
              .token_stride = 11,
              .head_stride = 6,
              .theta = 100.0,
              .mrope_section = {1, 1, 0}});
  const std::vector<double> want = {-3.144039117, -2.285279327, -0.339143083, 3.844151193,
                                    5.0,          99.0,         -1.402448017, 2.794564107,
                                    -1.741591100, -1.200171425, 7.0};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(x[i], want[i], 2e-6) << "index " << i;
  EXPECT_EQ(x[4], 5.0f);
  EXPECT_EQ(x[5], 99.0f);
  EXPECT_EQ(x[10], 7.0f);
}

struct Layout {
  int64_t tokens, heads, head_dim, rotary_dim, token_stride, head_stride;
};

// Direct formula in double: slot i rotates pair (i, i + R/2) by p_{axis[i]} * theta^(-2i/R).
// The kernel computes inv_freq and the angle in fp32 (as HF does), so it differs from this by the
// fp32 rounding of the angle: powf (<= 1 ulp), the reciprocal and the product (0.5 ulp each),
// i.e. |d angle| <= 3 u |angle|, plus cos/sin and the rotation itself (a few u). Hence
// |d y| <= (|x1| + |x2|) (4 u |angle| + 8 u). A slot on the wrong axis or a wrong frequency
// changes the angle by >= 1e-3 rad here, orders of magnitude above that.
void ExpectMatchesDirectFormula(const Layout& l, double theta, std::array<int, 3> section,
                                const std::vector<Axis>& axis_table,
                                const std::vector<int64_t>& positions) {
  ASSERT_EQ(static_cast<int64_t>(axis_table.size()), l.rotary_dim / 2);
  const int64_t size = (l.tokens - 1) * l.token_stride + (l.heads - 1) * l.head_stride + l.head_dim;
  const std::vector<float> x0 = Uniform(size, 42);
  std::vector<float> x = x0;
  ApplyMRope(x.data(), positions.data(),
             {.num_tokens = l.tokens,
              .num_heads = l.heads,
              .head_dim = l.head_dim,
              .rotary_dim = l.rotary_dim,
              .token_stride = l.token_stride,
              .head_stride = l.head_stride,
              .theta = theta,
              .mrope_section = section});
  std::vector<bool> rotated(static_cast<size_t>(size), false);
  const int64_t half = l.rotary_dim / 2;
  for (int64_t t = 0; t < l.tokens; ++t) {
    for (int64_t h = 0; h < l.heads; ++h) {
      const int64_t base = t * l.token_stride + h * l.head_stride;
      for (int64_t i = 0; i < half; ++i) {
        const double pos = static_cast<double>(positions[axis_table[i] * l.tokens + t]);
        const double angle = pos * std::pow(theta, -2.0 * i / l.rotary_dim);
        const double x1 = x0[base + i], x2 = x0[base + i + half];
        const double y1 = x1 * std::cos(angle) - x2 * std::sin(angle);
        const double y2 = x2 * std::cos(angle) + x1 * std::sin(angle);
        const double tol =
            (std::abs(x1) + std::abs(x2)) * (4 * kUnitRoundoff * angle + 8 * kUnitRoundoff);
        ASSERT_NEAR(x[base + i], y1, tol) << "token " << t << " head " << h << " slot " << i;
        ASSERT_NEAR(x[base + i + half], y2, tol) << "token " << t << " head " << h << " slot " << i;
        rotated[base + i] = rotated[base + i + half] = true;
      }
    }
  }
  // Dims >= R of every head, and anything between heads/tokens, are bit-for-bit unchanged.
  for (int64_t e = 0; e < size; ++e) {
    if (!rotated[e]) {
      ASSERT_EQ(x[e], x0[e]) << "element " << e << " must not change";
    }
  }
}

TEST(MRopeTest, ShippedSectionSlotAssignment) {
  // mrope_section [11, 11, 10] (MODEL.md 2.6): T slots {0,3,...,30}, H {1,4,...,31},
  // W {2,5,...,29}: the interleaved pattern T,H,W repeated, ending T,H at slots 30, 31.
  const std::vector<Axis> table = {T, H, W, T, H, W, T, H, W, T, H, W, T, H, W, T,
                                   H, W, T, H, W, T, H, W, T, H, W, T, H, W, T, H};
  // Distinct T/H/W positions per token (an image-like token), so every slot's axis shows.
  const std::vector<int64_t> positions = {5,   6, 7, 300,   // T
                                          37,  2, 9, 301,   // H
                                          211, 1, 8, 302};  // W
  // D = 80 > R = 64; q inside a [Hq, 2D] q|gate row as in gated attention (head_stride 2D).
  ExpectMatchesDirectFormula({.tokens = 4,
                              .heads = 3,
                              .head_dim = 80,
                              .rotary_dim = 64,
                              .token_stride = 3 * 160,
                              .head_stride = 160},
                             1e7, {11, 11, 10}, table, positions);
}

TEST(MRopeTest, TextPositionsAreEqualOnAllAxes) {
  std::vector<int64_t> positions;
  for (int axis = 0; axis < 3; ++axis) {
    for (int64_t t = 0; t < 9; ++t) positions.push_back(1000 + 17 * t);
  }
  const std::vector<Axis> all_t(32, T);  // equal positions: any axis table gives the same result
  ExpectMatchesDirectFormula({.tokens = 9,
                              .heads = 2,
                              .head_dim = 256,
                              .rotary_dim = 64,
                              .token_stride = 512,
                              .head_stride = 256},
                             1e7, {11, 11, 10}, all_t, positions);
}

TEST(MRopeTest, NonDefaultSections) {
  // R = 16 (8 slots). [2, 3, 3]: H claims i % 3 == 1 below 9 -> {1, 4, 7}; W claims i % 3 == 2
  // below 9 -> {2, 5}; T keeps {0, 3, 6} (section[0] is not read).
  const std::vector<int64_t> positions = {3, 40, 7, 500, 11, 2};
  ExpectMatchesDirectFormula({.tokens = 2,
                              .heads = 2,
                              .head_dim = 20,
                              .rotary_dim = 16,
                              .token_stride = 45,
                              .head_stride = 21},
                             10000.0, {2, 3, 3}, {T, H, W, T, H, W, T, H}, positions);
  // [4, 2, 2]: H -> {1, 4}, W -> {2, 5}, T -> {0, 3, 6, 7} (the tail slots all go to T).
  ExpectMatchesDirectFormula({.tokens = 2,
                              .heads = 2,
                              .head_dim = 16,
                              .rotary_dim = 16,
                              .token_stride = 32,
                              .head_stride = 16},
                             10000.0, {4, 2, 2}, {T, H, W, T, H, W, T, T}, positions);
}

}  // namespace
}  // namespace qwen::kernels::cpu

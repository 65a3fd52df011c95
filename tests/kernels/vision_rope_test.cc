// ApplyVisionRope (kernels/vision_rope.h, MODEL.md 4.3) against a hand-computed example and a
// double-precision transcription of HF's cos/sin construction (cat([h, w]) twice, rotate_half).
#include "kernels/vision_rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::kUnitRoundoff;
using ::qwen::kernels::testing::Uniform;

TEST(VisionRopeTest, HandComputedTinyExample) {
  // head_dim 8, theta 100: F = 2 frequencies per axis, inv_freq = [1, 100^(-2/4) = 0.1].
  // Patch (row 3, col 20): angles [3, 0.3, 20, 2] for pairs (0,4), (1,5), (2,6), (3,7)
  // (values from the python math module).
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8};
  const int64_t row = 3, col = 20;
  ApplyVisionRope(x.data(), &row, &col,
                  {.num_tokens = 1,
                   .num_heads = 1,
                   .head_dim = 8,
                   .token_stride = 8,
                   .head_stride = 8,
                   .theta = 100.0});
  const std::vector<double> want = {-1.695592537, 0.137551738, -5.166370570, -8.938966761,
                                    -4.808842475, 6.323059348, 5.595410185,  0.308015015};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(x[i], want[i], 1e-5) << "index " << i;
}

// HF: freqs = pos[..., None] * inv_freq; cos = cat([cos(freqs_h), cos(freqs_w)]) repeated twice;
// q * cos + rotate_half(q) * sin with rotate_half(q) = cat(-q2, q1). Written in double.
void ExpectMatchesHfFormula(int64_t tokens, int64_t heads, int64_t head_dim, int64_t token_stride,
                            int64_t head_stride, double theta) {
  const int64_t size = (tokens - 1) * token_stride + (heads - 1) * head_stride + head_dim;
  const std::vector<float> x0 = Uniform(size, 31);
  std::vector<int64_t> rows(tokens), cols(tokens);
  for (int64_t t = 0; t < tokens; ++t) {
    rows[t] = (t * 7) % 37;
    cols[t] = (t * 13 + 5) % 53;
  }
  std::vector<float> x = x0;
  ApplyVisionRope(x.data(), rows.data(), cols.data(),
                  {.num_tokens = tokens,
                   .num_heads = heads,
                   .head_dim = head_dim,
                   .token_stride = token_stride,
                   .head_stride = head_stride,
                   .theta = theta});
  const int64_t spatial = head_dim / 2;
  std::vector<double> inv_freq;
  for (int64_t i = 0; i < spatial; i += 2)
    inv_freq.push_back(1.0 / std::pow(theta, double(i) / spatial));
  std::vector<bool> touched(static_cast<size_t>(size), false);
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<double> freqs;  // [h freqs | w freqs], then the same again
    for (double f : inv_freq) freqs.push_back(rows[t] * f);
    for (double f : inv_freq) freqs.push_back(cols[t] * f);
    const std::vector<double> half_freqs = freqs;
    freqs.insert(freqs.end(), half_freqs.begin(), half_freqs.end());
    ASSERT_EQ(static_cast<int64_t>(freqs.size()), head_dim);
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t base = t * token_stride + h * head_stride;
      for (int64_t j = 0; j < head_dim; ++j) {
        const double rot =
            j < spatial ? -double(x0[base + j + spatial]) : double(x0[base + j - spatial]);
        const double want = x0[base + j] * std::cos(freqs[j]) + rot * std::sin(freqs[j]);
        // fp32 angle error <= 3 u |angle| (powf, reciprocal, product), plus the rotation's own
        // rounding: a wrong axis or frequency moves the angle by >= 1e-2 rad here.
        const double tol = 2.0 * (4 * kUnitRoundoff * std::abs(freqs[j]) + 8 * kUnitRoundoff);
        ASSERT_NEAR(x[base + j], want, tol) << "token " << t << " head " << h << " dim " << j;
        touched[base + j] = true;
      }
    }
  }
  for (int64_t e = 0; e < size; ++e) {
    if (!touched[e]) {
      ASSERT_EQ(x[e], x0[e]) << "element " << e << " outside the heads changed";
    }
  }
}

TEST(VisionRopeTest, MatchesHfFormulaHeadDim16InQkvRow) {
  // q inside a [q | k | v] row of 3 * heads * head_dim (token_stride), as the vision block uses.
  ExpectMatchesHfFormula(/*tokens=*/19, /*heads=*/4, /*head_dim=*/16, /*token_stride=*/3 * 64,
                         /*head_stride=*/16, 10000.0);
}

TEST(VisionRopeTest, MatchesHfFormulaHeadDim72WithGaps) {
  // hd_v = 72 (9B/27B): 18 frequencies per axis; heads with a gap between them.
  ExpectMatchesHfFormula(/*tokens=*/7, /*heads=*/3, /*head_dim=*/72, /*token_stride=*/3 * 80 + 5,
                         /*head_stride=*/80, 10000.0);
}

}  // namespace
}  // namespace qwen::kernels::cpu

// SegmentAttention (kernels/vision_attention.h) against a full block-diagonal score matrix in
// double.
#include "kernels/vision_attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::MaxAbs;
using ::qwen::kernels::testing::Normal;

struct Layout {
  std::vector<int64_t> cu_seqlens;
  int64_t heads, head_dim;
};

// Reference: the full [N, N] score matrix per head, masked to -inf outside the token's own
// segment (the "attention mask" formulation, independent of the per-segment loop), softmax, P V.
std::vector<double> Reference(const float* q, const float* k, const float* v, const Layout& l,
                              int64_t q_stride, int64_t kv_stride) {
  const int64_t n = l.cu_seqlens.back(), d = l.head_dim;
  std::vector<int64_t> segment(static_cast<size_t>(n));
  for (size_t s = 0; s + 1 < l.cu_seqlens.size(); ++s) {
    for (int64_t t = l.cu_seqlens[s]; t < l.cu_seqlens[s + 1]; ++t) segment[t] = s;
  }
  std::vector<double> out(static_cast<size_t>(n * l.heads * d), 0.0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (int64_t h = 0; h < l.heads; ++h) {
    for (int64_t t = 0; t < n; ++t) {
      std::vector<double> row(static_cast<size_t>(n), -INFINITY);
      for (int64_t j = 0; j < n; ++j) {
        if (segment[j] != segment[t]) continue;
        double s = 0.0;
        for (int64_t i = 0; i < d; ++i) {
          s += static_cast<double>(q[t * q_stride + h * d + i]) * k[j * kv_stride + h * d + i];
        }
        row[j] = s * scale;
      }
      const double mx = *std::max_element(row.begin(), row.end());
      double sum = 0.0;
      for (double& r : row) sum += r = std::exp(r - mx);
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t i = 0; i < d; ++i) {
          out[(t * l.heads + h) * d + i] += row[j] / sum * v[j * kv_stride + h * d + i];
        }
      }
    }
  }
  return out;
}

class SegmentAttentionTest : public ::testing::TestWithParam<Layout> {};

TEST_P(SegmentAttentionTest, MatchesMaskedFullScoreMatrix) {
  const Layout l = GetParam();
  const int64_t n = l.cu_seqlens.back(), hd = l.heads * l.head_dim;
  // q, k, v interleaved in one [N, 3 * heads * head_dim] row, as the vision qkv projection
  // produces them; the output row is wider than heads * head_dim.
  const int64_t stride = 3 * hd, out_stride = hd + 3;
  const std::vector<float> qkv = Normal(n * stride, 41, 1.5f);
  std::vector<float> out(static_cast<size_t>(n * out_stride), -9.0f);
  SegmentAttention(qkv.data(), qkv.data() + hd, qkv.data() + 2 * hd, l.cu_seqlens.data(),
                   out.data(),
                   {.num_segments = static_cast<int64_t>(l.cu_seqlens.size()) - 1,
                    .num_heads = l.heads,
                    .head_dim = l.head_dim,
                    .q_stride = stride,
                    .kv_stride = stride,
                    .out_stride = out_stride,
                    .scale = 1.0f / std::sqrt(static_cast<float>(l.head_dim))});
  const std::vector<double> want =
      Reference(qkv.data(), qkv.data() + hd, qkv.data() + 2 * hd, l, stride, stride);
  // fp32 dot products over <= 72 terms, a softmax over <= 40 terms and a weighted sum: a few
  // hundred u relative to the output scale (~|v|); 1e-5 is ~10x that and far below the effect
  // of attending across a segment border (>= 1e-2).
  const double tol = 1e-5 * std::max(1.0, MaxAbs(want));
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < hd; ++i) {
      ASSERT_NEAR(out[t * out_stride + i], want[t * hd + i], tol) << "token " << t << " elem " << i;
    }
    for (int64_t i = hd; i < out_stride; ++i) ASSERT_EQ(out[t * out_stride + i], -9.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, SegmentAttentionTest,
    ::testing::Values(Layout{{0, 19}, 4, 16},            // one segment (one image frame)
                      Layout{{0, 1, 8, 27, 30}, 4, 16},  // awkward lengths, a 1-token segment
                      Layout{{0, 6, 6, 40, 41}, 3, 72},  // an empty segment, hd_v = 72
                      Layout{{0, 12, 24, 36}, 2, 8}));   // equal frames of a video

TEST(SegmentAttentionTest, SegmentsAreIsolated) {
  // Changing k/v of segment 1 leaves segments 0 and 2 bit-for-bit unchanged.
  const std::vector<int64_t> cu = {0, 5, 13, 20};
  const int64_t heads = 2, d = 8, hd = heads * d, n = 20;
  std::vector<float> q = Normal(n * hd, 42), k = Normal(n * hd, 43), v = Normal(n * hd, 44);
  const SegmentAttentionParams p{.num_segments = 3,
                                 .num_heads = heads,
                                 .head_dim = d,
                                 .q_stride = hd,
                                 .kv_stride = hd,
                                 .out_stride = hd,
                                 .scale = 0.3f};
  std::vector<float> a(n * hd), b(n * hd);
  SegmentAttention(q.data(), k.data(), v.data(), cu.data(), a.data(), p);
  for (int64_t i = 5 * hd; i < 13 * hd; ++i) {
    k[i] += 1.0f;
    v[i] -= 2.0f;
  }
  SegmentAttention(q.data(), k.data(), v.data(), cu.data(), b.data(), p);
  for (int64_t i = 0; i < n * hd; ++i) {
    if (i >= 5 * hd && i < 13 * hd) continue;  // segment 1 itself
    ASSERT_EQ(a[i], b[i]) << "element " << i << " outside the changed segment moved";
  }
  double moved = 0.0;
  for (int64_t i = 5 * hd; i < 13 * hd; ++i) moved = std::max(moved, double(std::abs(a[i] - b[i])));
  EXPECT_GT(moved, 0.1);
}

}  // namespace
}  // namespace qwen::kernels::cpu

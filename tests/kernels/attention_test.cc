// CausalAttention (kernels/attention.h, MODEL.md 2.5 step 5) against a full score matrix in double.
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::Normal;
using ::qwen::kernels::testing::Uniform;

// Reference: for each query head, the full [num_new, kv_len] score matrix with the causal mask
// (query t sits at position kv_len - num_new + t), then a row softmax and P · V, all in double.
std::vector<double> Reference(const std::vector<float>& q, const std::vector<float>& k,
                              const std::vector<float>& v, const AttentionParams& p) {
  const int64_t d = p.head_dim;
  std::vector<double> out(static_cast<size_t>(p.num_new * p.num_heads_q * d), 0.0);
  for (int64_t h = 0; h < p.num_heads_q; ++h) {
    const int64_t g = h * p.num_heads_kv / p.num_heads_q;  // == h / (Hq / Hkv)
    std::vector<double> scores(static_cast<size_t>(p.num_new * p.kv_len), -INFINITY);
    for (int64_t t = 0; t < p.num_new; ++t) {
      for (int64_t j = 0; j < p.kv_len; ++j) {
        if (j > p.kv_len - p.num_new + t) continue;  // causal mask
        double s = 0.0;
        for (int64_t i = 0; i < d; ++i) {
          s += static_cast<double>(q[t * p.q_stride + h * d + i]) * k[j * p.kv_stride + g * d + i];
        }
        scores[t * p.kv_len + j] = s * p.scale;
      }
    }
    for (int64_t t = 0; t < p.num_new; ++t) {
      double* row = scores.data() + t * p.kv_len;
      const double mx = *std::max_element(row, row + p.kv_len);
      double sum = 0.0;
      for (int64_t j = 0; j < p.kv_len; ++j) sum += row[j] = std::exp(row[j] - mx);
      for (int64_t j = 0; j < p.kv_len; ++j) {
        for (int64_t i = 0; i < d; ++i) {
          out[(t * p.num_heads_q + h) * d + i] += row[j] / sum * v[j * p.kv_stride + g * d + i];
        }
      }
    }
  }
  return out;
}

struct Case {
  int64_t num_new, kv_len, hq, hkv, d;
};

class AttentionTest : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionTest, MatchesFullScoreMatrix) {
  const Case c = GetParam();
  // Strided q (as inside a [Hq, 2D] q|gate row) and a KV cache row wider than Hkv*D.
  const AttentionParams p{.num_new = c.num_new,
                          .kv_len = c.kv_len,
                          .num_heads_q = c.hq,
                          .num_heads_kv = c.hkv,
                          .head_dim = c.d,
                          .q_stride = 2 * c.hq * c.d + 3,
                          .kv_stride = c.hkv * c.d + 5,
                          .scale = 1.0f / std::sqrt(float(c.d))};
  const std::vector<float> q = Normal(c.num_new * p.q_stride, 1, 1.5f);
  const std::vector<float> k = Normal(c.kv_len * p.kv_stride, 2, 1.5f);
  const std::vector<float> v = Uniform(c.kv_len * p.kv_stride, 3);
  std::vector<float> out(static_cast<size_t>(c.num_new * c.hq * c.d), NAN);
  CausalAttention(q.data(), k.data(), v.data(), out.data(), p);
  const std::vector<double> want = Reference(q, k, v, p);
  // Scores are O(few), so the fp32 dot products (D terms), the exp and the normalised sum over
  // <= kv_len terms each contribute a few 1e-7 relative to max|v| = 1; 2e-6 is ~10x that, and any
  // masking, GQA-mapping or softmax error moves outputs by >= 1e-2.
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(out[i], want[i], 2e-6) << "element " << i;
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionTest,
                         ::testing::Values(Case{1, 1, 1, 1, 8},        // first token
                                           Case{13, 13, 6, 2, 19},     // prefill, GQA 3
                                           Case{5, 13, 6, 2, 19},      // continuation chunk
                                           Case{1, 40, 8, 2, 64},      // decode, GQA 4
                                           Case{7, 7, 4, 4, 33},       // no grouping
                                           Case{3, 111, 8, 1, 256}));  // MQA, D = 256

TEST(AttentionTest, GqaUsesInterleavedKvHeads) {
  // Hq = 4, Hkv = 2, one token, D = 1: query heads 0,1 must read KV head 0 and 2,3 KV head 1.
  const float q[4] = {1, 1, 1, 1};
  const float k[2] = {0.5f, -0.5f};
  const float v[2] = {10.0f, 20.0f};
  float out[4] = {};
  CausalAttention(q, k, v, out,
                  {.num_new = 1,
                   .kv_len = 1,
                   .num_heads_q = 4,
                   .num_heads_kv = 2,
                   .head_dim = 1,
                   .q_stride = 4,
                   .kv_stride = 2,
                   .scale = 1.0f});
  EXPECT_EQ(out[0], 10.0f);
  EXPECT_EQ(out[1], 10.0f);
  EXPECT_EQ(out[2], 20.0f);
  EXPECT_EQ(out[3], 20.0f);
}

TEST(AttentionTest, HugeScoresAreStable) {
  // Scores of order 1e4 overflow exp() without the max subtraction. Key 2 beats every other key
  // by >= 1000, so the softmax is one-hot up to e^-1000 and the output is exactly v[2].
  const int64_t kv_len = 6, d = 4;
  std::vector<float> k(kv_len * d), v = Uniform(kv_len * d, 5);
  for (int64_t j = 0; j < kv_len; ++j) {
    for (int64_t i = 0; i < d; ++i) k[j * d + i] = (j == 2 ? 3000.0f : 1000.0f * (j % 2));
  }
  const std::vector<float> q(d, 1.0f);
  std::vector<float> out(d);
  CausalAttention(q.data(), k.data(), v.data(), out.data(),
                  {.num_new = 1,
                   .kv_len = kv_len,
                   .num_heads_q = 1,
                   .num_heads_kv = 1,
                   .head_dim = d,
                   .q_stride = d,
                   .kv_stride = d,
                   .scale = 1.0f});
  for (int64_t i = 0; i < d; ++i) EXPECT_EQ(out[i], v[2 * d + i]);
}

TEST(AttentionTest, CausalMaskHidesFutureTokens) {
  // Changing K/V of cache tokens after a query's position must not change that query's output.
  const AttentionParams p{.num_new = 4,
                          .kv_len = 10,
                          .num_heads_q = 2,
                          .num_heads_kv = 1,
                          .head_dim = 8,
                          .q_stride = 16,
                          .kv_stride = 8,
                          .scale = 0.35f};
  const std::vector<float> q = Normal(4 * 16, 7);
  std::vector<float> k = Normal(10 * 8, 8), v = Normal(10 * 8, 9);
  std::vector<float> out1(4 * 2 * 8), out2(4 * 2 * 8);
  CausalAttention(q.data(), k.data(), v.data(), out1.data(), p);
  // Query 1 sits at position 7: perturb tokens 8 and 9.
  for (int64_t i = 8 * 8; i < 10 * 8; ++i) {
    k[i] += 3.0f;
    v[i] -= 5.0f;
  }
  CausalAttention(q.data(), k.data(), v.data(), out2.data(), p);
  for (int64_t i = 0; i < 2 * 2 * 8; ++i) EXPECT_EQ(out1[i], out2[i]) << i;  // queries 0, 1
  bool last_changed = false;
  for (int64_t i = 3 * 16; i < 4 * 16; ++i) last_changed |= out1[i] != out2[i];
  EXPECT_TRUE(last_changed);  // query 3 (position 9) sees them
}

}  // namespace
}  // namespace qwen::kernels::cpu

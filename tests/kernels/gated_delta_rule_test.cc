// Gated delta rule (kernels/gated_delta_rule.h, MODEL.md 2.7.2-2.7.4): the recurrent form against
// an independent double-precision matrix formulation, the chunked form against the recurrent one
// over many shapes (outputs AND final states), prefill-then-decode continuation, and the gates.
#include "kernels/gated_delta_rule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::MaxAbs;
using ::qwen::kernels::testing::MaxAbsDiff;
using ::qwen::kernels::testing::Normal;
using ::qwen::kernels::testing::Uniform;

// Inputs laid out as in the model: q | k | v side by side in one conv-output row of
// conv_dim = 2*Hk*Dk + Hv*Dv elements (so q, k and v are strided), q/k L2-normalised per head
// (eps 1e-6 on the sum of squares) and q scaled by Dk^-1/2, g and beta from realistic gates.
struct Inputs {
  int64_t tokens, hk, hv, dk, dv;
  std::vector<float> conv;  // [T, conv_dim]
  std::vector<float> g, beta;
  const float* q() const { return conv.data(); }
  const float* k() const { return conv.data() + hk * dk; }
  const float* v() const { return conv.data() + 2 * hk * dk; }
  GatedDeltaRuleParams params() const {
    const int64_t conv_dim = 2 * hk * dk + hv * dv;
    return {.num_tokens = tokens,
            .num_heads_k = hk,
            .num_heads_v = hv,
            .head_dim_k = dk,
            .head_dim_v = dv,
            .qk_stride = conv_dim,
            .v_stride = conv_dim};
  }
};

// decay_scale multiplies g: 1 gives the HF-initialised range (A = exp(A_log) in [1, 16],
// dt = softplus(a + dt_bias) mostly 0.01..0.5, so g ~ -0.01..-8); larger values stress underflow.
Inputs MakeInputs(int64_t tokens, int64_t hk, int64_t hv, int64_t dk, int64_t dv, uint32_t seed,
                  float decay_scale = 1.0f) {
  Inputs in{tokens, hk, hv, dk, dv, {}, {}, {}};
  const int64_t conv_dim = 2 * hk * dk + hv * dv;
  in.conv = Normal(tokens * conv_dim, seed);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t h = 0; h < 2 * hk; ++h) {  // q heads then k heads
      float* x = in.conv.data() + t * conv_dim + h * dk;
      double ss = 0.0;
      for (int64_t i = 0; i < dk; ++i) ss += static_cast<double>(x[i]) * x[i];
      const double f = 1.0 / std::sqrt(ss + 1e-6) * (h < hk ? 1.0 / std::sqrt(double(dk)) : 1.0);
      for (int64_t i = 0; i < dk; ++i) x[i] = static_cast<float>(x[i] * f);
    }
  }
  const std::vector<float> a_log = Uniform(hv, seed + 1, 0.0f, std::log(16.0f));
  const std::vector<float> dt_bias = Uniform(hv, seed + 2, -4.5f, -0.5f);
  const std::vector<float> a = Normal(tokens * hv, seed + 3);
  const std::vector<float> b = Normal(tokens * hv, seed + 4, 2.0f);
  in.g.resize(tokens * hv);
  in.beta.resize(tokens * hv);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t j = 0; j < hv; ++j) {
      const double x = a[t * hv + j] + dt_bias[j];
      in.g[t * hv + j] =
          static_cast<float>(-std::exp(a_log[j]) * std::log1p(std::exp(x)) * decay_scale);
      in.beta[t * hv + j] = static_cast<float>(1.0 / (1.0 + std::exp(-b[t * hv + j])));
    }
  }
  return in;
}

// Independent reference in double: S_t = alpha_t (I - beta_t k_t k_tᵀ) S_{t-1} + beta_t k_t v_tᵀ,
// o_t = S_tᵀ q_t (MODEL.md 2.7.3 "equivalently"), with (I - beta k kᵀ) formed explicitly.
void ReferenceRecurrent(const Inputs& in, std::vector<double>& state, std::vector<double>& out) {
  const GatedDeltaRuleParams p = in.params();
  const int64_t dk = in.dk, dv = in.dv;
  out.assign(static_cast<size_t>(in.tokens * in.hv * dv), 0.0);
  std::vector<double> m(static_cast<size_t>(dk * dk)), next(static_cast<size_t>(dk * dv));
  for (int64_t t = 0; t < in.tokens; ++t) {
    for (int64_t j = 0; j < in.hv; ++j) {
      const int64_t i = j * in.hk / in.hv;  // == j / (Hv / Hk): repeat_interleave grouping
      const float* q = in.q() + t * p.qk_stride + i * dk;
      const float* k = in.k() + t * p.qk_stride + i * dk;
      const float* v = in.v() + t * p.v_stride + j * dv;
      const double alpha = std::exp(static_cast<double>(in.g[t * in.hv + j]));
      const double beta = in.beta[t * in.hv + j];
      double* s = state.data() + j * dk * dv;
      for (int64_t r = 0; r < dk; ++r) {
        for (int64_t c = 0; c < dk; ++c) m[r * dk + c] = (r == c) - beta * k[r] * k[c];
      }
      for (int64_t r = 0; r < dk; ++r) {
        for (int64_t c = 0; c < dv; ++c) {
          double acc = 0.0;
          for (int64_t l = 0; l < dk; ++l) acc += m[r * dk + l] * s[l * dv + c];
          next[r * dv + c] = alpha * acc + beta * k[r] * v[c];
        }
      }
      std::copy(next.begin(), next.end(), s);
      for (int64_t c = 0; c < dv; ++c) {
        double acc = 0.0;
        for (int64_t r = 0; r < dk; ++r) acc += s[r * dv + c] * q[r];
        out[(t * in.hv + j) * dv + c] = acc;
      }
    }
  }
}

// Norm-wise comparison: max |got - want| <= rel * max |want|. Per-element relative errors are
// meaningless for entries that are sums with cancellation; the rounding error of every entry
// scales with the magnitude of the terms summed, which max |want| bounds.
template <typename A, typename B>
void ExpectNormwiseClose(const std::vector<A>& got, const std::vector<B>& want, double rel,
                         const std::string& what) {
  const double scale = MaxAbs(want);
  ASSERT_GT(scale, 1e-2) << what << ": reference too small for the check to mean anything";
  const double err = MaxAbsDiff(got, want);
  EXPECT_LE(err, rel * scale) << what << ": max error " << err << " vs max |ref| " << scale;
}

TEST(GatedDeltaRuleTest, RecurrentHandComputedStep) {
  // Hk = Hv = 1, Dk = 2, Dv = 1, S0 = [[1], [2]], k = [1, 0], q = [0, 1], v = 5, g = ln 0.5,
  // beta = 0.5. Decay: S = [[0.5], [1]]; kv = Sᵀk = 0.5; delta = 0.5 (5 - 0.5) = 2.25;
  // S = [[2.75], [1]]; o = Sᵀq = 1. A second token q = [1, 0] (k, v, g, beta unchanged) gives
  // decay [[1.375], [0.5]], kv = 1.375, delta = 1.8125, S = [[3.1875], [0.5]], o = 3.1875.
  const float q[4] = {0, 1, 1, 0}, k[4] = {1, 0, 1, 0}, v[2] = {5, 5};
  const float g[2] = {std::log(0.5f), std::log(0.5f)}, beta[2] = {0.5f, 0.5f};
  float state[2] = {1, 2}, out[2] = {};
  GatedDeltaRuleRecurrent(q, k, v, g, beta, state, out,
                          {.num_tokens = 2,
                           .num_heads_k = 1,
                           .num_heads_v = 1,
                           .head_dim_k = 2,
                           .head_dim_v = 1,
                           .qk_stride = 2,
                           .v_stride = 1});
  EXPECT_NEAR(out[0], 1.0f, 1e-6);
  EXPECT_NEAR(out[1], 3.1875f, 1e-6);
  EXPECT_NEAR(state[0], 3.1875f, 1e-6);
  EXPECT_NEAR(state[1], 0.5f, 1e-6);
}

TEST(GatedDeltaRuleTest, RecurrentMatchesDoubleMatrixForm) {
  for (const auto& [hk, hv] : {std::pair{1, 1}, std::pair{2, 4}, std::pair{1, 3}}) {
    const Inputs in = MakeInputs(50, hk, hv, 24, 40, 100 + hv);
    const std::vector<float> s0 = Normal(hv * 24 * 40, 7, 0.5f);
    std::vector<float> state = s0, out(50 * hv * 40);
    GatedDeltaRuleRecurrent(in.q(), in.k(), in.v(), in.g.data(), in.beta.data(), state.data(),
                            out.data(), in.params());
    std::vector<double> ref_state(s0.begin(), s0.end()), ref_out;
    ReferenceRecurrent(in, ref_state, ref_out);
    // fp32 vs exact: each step is a contraction plus O(Dk) products, so rounding errors add up
    // (they do not compound) to a few u per step of the state magnitude: observed <= 2e-7 over
    // 50 steps. 2e-6 keeps a 10x margin and is far below what a swapped order (kv read before
    // the decay, output read before the update) produces (>= 1e-2).
    const std::string what = "Hk=" + std::to_string(hk) + " Hv=" + std::to_string(hv);
    ExpectNormwiseClose(out, ref_out, 2e-6, what + " out");
    ExpectNormwiseClose(state, ref_state, 2e-6, what + " state");
  }
}

// Chunked vs recurrent. Tolerance 1e-4 norm-wise (relative to max |ref|, values of order 0.1..1):
// both forms compute the same exact quantity and differ only by fp32 rounding. Per chunk each
// entry of O and S is a sum of O(Dk + C) products of O(1) terms (<= 100 u relative each), the
// unit-lower-triangular solve with |A_ij| <= |k_i·k_j| < 1 for normalised k stays well
// conditioned, and the state update is contractive (||alpha (I - beta k kᵀ)|| <= 1), so errors
// add up over at most T/C chunks rather than compounding: worst case here ~13 chunks × ~100 u
// ≈ 1e-4; observed <= 3e-6. Formula errors (decay at the wrong place, Γ off by one row, missing
// incoming-state term, wrong head grouping) produce relative differences >= 1e-2.
constexpr double kChunkedVsRecurrentTol = 1e-4;

using ChunkCase = std::tuple<int64_t /*T*/, int /*Hv/Hk*/, int64_t /*chunk*/, bool /*s0*/>;
class ChunkedVsRecurrentTest : public ::testing::TestWithParam<ChunkCase> {};

TEST_P(ChunkedVsRecurrentTest, OutputsAndFinalStatesAgree) {
  const auto [tokens, ratio, chunk, random_state] = GetParam();
  const int64_t hk = 2, hv = hk * ratio, dk = 32, dv = 48;  // Dk != Dv
  const Inputs in = MakeInputs(tokens, hk, hv, dk, dv, static_cast<uint32_t>(tokens * 7 + ratio));
  std::vector<float> s0(hv * dk * dv, 0.0f);
  if (random_state) s0 = Normal(hv * dk * dv, 9, 0.5f);
  std::vector<float> state_r = s0, out_r(tokens * hv * dv);
  GatedDeltaRuleRecurrent(in.q(), in.k(), in.v(), in.g.data(), in.beta.data(), state_r.data(),
                          out_r.data(), in.params());
  std::vector<float> state_c = s0, out_c(tokens * hv * dv, NAN);
  GatedDeltaRuleChunked(in.q(), in.k(), in.v(), in.g.data(), in.beta.data(), state_c.data(),
                        out_c.data(), in.params(), chunk);
  ExpectNormwiseClose(out_c, out_r, kChunkedVsRecurrentTol, "out");
  ExpectNormwiseClose(state_c, state_r, kChunkedVsRecurrentTol, "state");
}

INSTANTIATE_TEST_SUITE_P(Shapes, ChunkedVsRecurrentTest,
                         ::testing::Combine(::testing::Values(1, 5, 63, 64, 65, 130, 200),
                                            ::testing::Values(1, 2, 3), ::testing::Values(64, 16),
                                            ::testing::Bool()));

TEST(GatedDeltaRuleTest, ChunkedAtModelSizeAndStrongDecay) {
  // Dk = Dv = 128 (every shipped size), Hv/Hk = 2, and gates scaled up 10x so that chunk-level
  // decays e^γ underflow to 0 in fp32: the chunked form must stay finite and still agree.
  for (const float decay_scale : {1.0f, 10.0f}) {
    const Inputs in = MakeInputs(150, 1, 2, 128, 128, 31, decay_scale);
    const std::vector<float> s0 = Normal(2 * 128 * 128, 32, 0.5f);
    std::vector<float> state_r = s0, out_r(150 * 2 * 128);
    GatedDeltaRuleRecurrent(in.q(), in.k(), in.v(), in.g.data(), in.beta.data(), state_r.data(),
                            out_r.data(), in.params());
    std::vector<float> state_c = s0, out_c(out_r.size());
    GatedDeltaRuleChunked(in.q(), in.k(), in.v(), in.g.data(), in.beta.data(), state_c.data(),
                          out_c.data(), in.params());
    for (float x : out_c) ASSERT_TRUE(std::isfinite(x));
    ExpectNormwiseClose(out_c, out_r, kChunkedVsRecurrentTol, "out");
    ExpectNormwiseClose(state_c, state_r, kChunkedVsRecurrentTol, "state");
  }
}

TEST(GatedDeltaRuleTest, ChunkedPrefillThenRecurrentDecodeMatchesAllRecurrent) {
  const int64_t prefill = 130, decode = 20, tokens = prefill + decode, hk = 1, hv = 3;
  const int64_t dk = 32, dv = 16;
  const Inputs in = MakeInputs(tokens, hk, hv, dk, dv, 55);
  const GatedDeltaRuleParams all = in.params();
  std::vector<float> state_r(hv * dk * dv, 0.0f), out_r(tokens * hv * dv);
  GatedDeltaRuleRecurrent(in.q(), in.k(), in.v(), in.g.data(), in.beta.data(), state_r.data(),
                          out_r.data(), all);

  std::vector<float> state(hv * dk * dv, 0.0f), out(tokens * hv * dv, NAN);
  GatedDeltaRuleParams p = all;
  p.num_tokens = prefill;
  GatedDeltaRuleChunked(in.q(), in.k(), in.v(), in.g.data(), in.beta.data(), state.data(),
                        out.data(), p);
  p.num_tokens = 1;
  for (int64_t t = prefill; t < tokens; ++t) {
    GatedDeltaRuleRecurrent(in.q() + t * all.qk_stride, in.k() + t * all.qk_stride,
                            in.v() + t * all.v_stride, in.g.data() + t * hv,
                            in.beta.data() + t * hv, state.data(), out.data() + t * hv * dv, p);
  }
  ExpectNormwiseClose(out, out_r, kChunkedVsRecurrentTol, "out");
  ExpectNormwiseClose(state, state_r, kChunkedVsRecurrentTol, "state");
}

TEST(GatedDeltaRuleTest, ChunkedMultiTokenContinuationMatchesOneCall) {
  // Chunked prefill in pieces (70 + 1 + 59 tokens) carrying the state, as chunked prefill of a
  // long prompt does, against one chunked call.
  const int64_t tokens = 130, hv = 2, dk = 16, dv = 24;
  const Inputs in = MakeInputs(tokens, 2, hv, dk, dv, 77);
  const GatedDeltaRuleParams all = in.params();
  std::vector<float> state_1(hv * dk * dv, 0.0f), out_1(tokens * hv * dv);
  GatedDeltaRuleChunked(in.q(), in.k(), in.v(), in.g.data(), in.beta.data(), state_1.data(),
                        out_1.data(), all);
  std::vector<float> state(hv * dk * dv, 0.0f), out(tokens * hv * dv, NAN);
  int64_t t0 = 0;
  for (const int64_t n : {70, 1, 59}) {
    GatedDeltaRuleParams p = all;
    p.num_tokens = n;
    GatedDeltaRuleChunked(in.q() + t0 * all.qk_stride, in.k() + t0 * all.qk_stride,
                          in.v() + t0 * all.v_stride, in.g.data() + t0 * hv,
                          in.beta.data() + t0 * hv, state.data(), out.data() + t0 * hv * dv, p);
    t0 += n;
  }
  ExpectNormwiseClose(out, out_1, kChunkedVsRecurrentTol, "out");
  ExpectNormwiseClose(state, state_1, kChunkedVsRecurrentTol, "state");
}

TEST(GatedDeltaGatesTest, MatchesFormulaWithStrides) {
  const int64_t tokens = 9, hv = 6, a_stride = 11, b_stride = 8;
  const std::vector<float> a = Normal(tokens * a_stride, 1, 3.0f);
  const std::vector<float> b = Normal(tokens * b_stride, 2, 3.0f);
  const std::vector<float> a_log = Uniform(hv, 3, 0.0f, 2.8f);
  const std::vector<float> dt_bias = Uniform(hv, 4, -5.0f, 1.0f);
  std::vector<float> g(tokens * hv), beta(tokens * hv);
  GatedDeltaGates(a.data(), b.data(), a_log.data(), dt_bias.data(), g.data(), beta.data(), tokens,
                  hv, a_stride, b_stride);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t j = 0; j < hv; ++j) {
      const double x = static_cast<double>(a[t * a_stride + j]) + dt_bias[j];
      const double want_g = -std::exp(static_cast<double>(a_log[j])) * std::log1p(std::exp(x));
      const double want_beta = 1.0 / (1.0 + std::exp(-static_cast<double>(b[t * b_stride + j])));
      // exp, log1p and a few products in fp32: a few u relative; 2e-6 allows ~30 u.
      ASSERT_NEAR(g[t * hv + j], want_g, 2e-6 * std::abs(want_g)) << t << " " << j;
      ASSERT_NEAR(beta[t * hv + j], want_beta, 2e-6 * want_beta) << t << " " << j;
    }
  }
}

TEST(GatedDeltaGatesTest, SoftplusThreshold) {
  // softplus(x) = x for x > 20 (PyTorch threshold): at x = 100, log1p(exp(x)) overflows in fp32,
  // the thresholded form gives exactly x. Below the threshold log1p(exp(x)) is used, including
  // very negative x where it is ~e^x (not 0 and not x).
  const std::vector<float> a = {100.0f, 20.5f, 19.5f, 0.0f, -30.0f};
  const std::vector<float> b = {0.0f, 100.0f, -100.0f, 2.0f, -2.0f};
  const std::vector<float> a_log(5, std::log(2.0f)), dt_bias(5, 0.0f);
  std::vector<float> g(5), beta(5);
  GatedDeltaGates(a.data(), b.data(), a_log.data(), dt_bias.data(), g.data(), beta.data(), 1, 5, 5,
                  5);
  const float two = std::exp(std::log(2.0f));  // exp(A_log) as the kernel sees it
  EXPECT_EQ(g[0], -two * 100.0f);
  EXPECT_EQ(g[1], -two * 20.5f);
  EXPECT_NEAR(g[2], -2.0 * std::log1p(std::exp(19.5)), 4e-6);
  EXPECT_NEAR(g[3], -2.0 * std::log(2.0), 1e-6);
  EXPECT_NEAR(g[4], -2.0 * std::exp(-30.0), 1e-18);
  EXPECT_EQ(beta[0], 0.5f);
  EXPECT_EQ(beta[1], 1.0f);
  EXPECT_GE(beta[2], 0.0f);
  EXPECT_LT(beta[2], 1e-40f);
  EXPECT_NEAR(beta[3], 1.0 / (1.0 + std::exp(-2.0)), 1e-7);
  EXPECT_NEAR(beta[4], 1.0 / (1.0 + std::exp(2.0)), 1e-7);
  for (float x : g) EXPECT_TRUE(std::isfinite(x));
}

}  // namespace
}  // namespace qwen::kernels::cpu

// The gated delta rule of Gated DeltaNet (MODEL.md 2.7.3 / 2.7.4), fp32 throughout.
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

struct GatedDeltaRuleParams {
  int64_t num_tokens;    // T
  int64_t num_heads_k;   // Hk (q and k heads)
  int64_t num_heads_v;   // Hv, a multiple of Hk; value head j uses q/k head j / (Hv / Hk)
  int64_t head_dim_k;    // Dk
  int64_t head_dim_v;    // Dv
  int64_t qk_stride;     // elements between consecutive tokens of q and of k
  int64_t v_stride;      // elements between consecutive tokens of v
};

// q, k: token t head i at [t*qk_stride + i*Dk] (already L2-normalised; q already scaled by
// Dk^-1/2); v: token t head j at [t*v_stride + j*Dv]; g: f32 [T, Hv] log-decay (<= 0);
// beta: f32 [T, Hv]; state: f32 [Hv, Dk, Dv] (S[k][v]) read and updated in place;
// out: f32 [T, Hv, Dv] contiguous.
// Per token: S = exp(g) S; S += k (beta (v - Sᵀk))ᵀ; o = Sᵀ q (reads the updated state).
void GatedDeltaRuleRecurrent(const float* q, const float* k, const float* v, const float* g,
                             const float* beta, float* state, float* out,
                             const GatedDeltaRuleParams& p);

// The chunked (WY / UT-transform) form used for prefill: the same result up to rounding, computed
// chunk by chunk (`chunk_size` tokens, 64 in HF/FLA) with the intra-chunk triangular solve.
void GatedDeltaRuleChunked(const float* q, const float* k, const float* v, const float* g,
                           const float* beta, float* state, float* out,
                           const GatedDeltaRuleParams& p, int64_t chunk_size = 64);

// g = -exp(A_log) * softplus(a + dt_bias) (softplus threshold 20), beta = sigmoid(b).
// a, b: f32 [T, Hv] with row strides a_stride / b_stride; g, beta: f32 [T, Hv] contiguous.
void GatedDeltaGates(const float* a, const float* b, const float* a_log, const float* dt_bias,
                     float* g, float* beta, int64_t num_tokens, int64_t num_heads_v,
                     int64_t a_stride, int64_t b_stride);

}  // namespace qwen::kernels::cpu

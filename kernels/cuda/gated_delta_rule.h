// CUDA gated delta rule of Gated DeltaNet (MODEL.md 2.7.2-2.7.4), fp32 math and fp32 state, over a
// flattened varlen batch with per-sequence state slots. The same function as the CPU references
// GatedDeltaRuleChunked / GatedDeltaRuleRecurrent / GatedDeltaGates (kernels/gated_delta_rule.h).
//
// Recurrent state pool layout (one per linear-attention layer): f32 [num_slots, Hv, Dk, Dv],
// S[k][v] row-major per value head (the CPU / HF layout, not vLLM's transposed [.., Dv, Dk]).
//
// Kernels (fp32 SIMT; no tensor cores, so results stay fp32-faithful):
//   * chunked prefill: one block per (value-column tile, value head, sequence) walks the sequence
//     chunk by chunk (chunk 64 by default, 32 on GB10), keeping its state tile in shared memory:
//     per chunk the Gram matrices K Kᵀ, Q Kᵀ with the decays Γ, T = (I + A)^-1 by a right-looking
//     forward substitution, V' = T diag(β) (V - diag(e^γ) K S), O = diag(e^γ) Q S + tril(QKᵀ⊙Γ) V',
//     S <- e^{γ_last} S + (diag(e^{γ_last - γ}) K)ᵀ V' (MODEL.md 2.7.4, algebraically regrouped).
//   * recurrent decode: one token per sequence, one block per (value-column tile, head, sequence),
//     state tile in shared memory, updated in place in its slot.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/gdn_variant.h"

namespace qwen::kernels::cuda {

// Supported head dims: Dk a multiple of 4 in [4, 256]; Dv in [1, 256]; Hv a multiple of Hk.
inline constexpr int64_t kMaxGdnHeadDim = 256;

struct GatedDeltaGatesParams {
  int64_t num_tokens = 0;   // T
  int64_t num_heads_v = 0;  // Hv
  int64_t a_stride = 0;     // elements between consecutive token rows of a (>= Hv)
  int64_t b_stride = 0;     // elements between consecutive token rows of b (>= Hv)
};

// g = -exp(A_log) * softplus(a + dt_bias) (softplus threshold 20), beta = sigmoid(b), in fp32.
//   a, b: bf16 [T, Hv] (in_proj_a / in_proj_b outputs, strided rows); a_log, dt_bias: f32 [Hv];
//   g, beta: f32 [T, Hv] contiguous.
cudaError_t GatedDeltaGates(const __nv_bfloat16* a, const __nv_bfloat16* b, const float* a_log,
                            const float* dt_bias, float* g, float* beta,
                            const GatedDeltaGatesParams& p, cudaStream_t stream);

struct GatedDeltaRuleVarlenParams {
  int64_t num_tokens = 0;   // N = cu_seqlens[num_seqs] (rows of q/k/v/g/beta/out)
  int64_t num_seqs = 0;     // S (<= 65535)
  int64_t num_heads_k = 0;  // Hk (q and k heads)
  int64_t num_heads_v = 0;  // Hv, a multiple of Hk; value head j uses q/k head j / (Hv / Hk)
  int64_t head_dim_k = 0;   // Dk
  int64_t head_dim_v = 0;   // Dv
  int64_t qk_stride = 0;    // elements between consecutive tokens of q and of k
  int64_t v_stride = 0;     // elements between consecutive tokens of v
  int64_t out_stride = 0;   // elements between consecutive tokens of out (>= Hv * Dv)
  GdnVariant variant = GdnVariant::kAuto;
};

// Chunked prefill (and multi-token continuation) of S sequences in one launch.
//   q, k: f32, token t head i at [t*qk_stride + i*Dk] (already L2-normalised; q already scaled by
//         Dk^-1/2: L2NormHeads in kernels/cuda/rms_norm.h); v: f32, token t head j at
//         [t*v_stride + j*Dv]; g, beta: f32 [N, Hv] (GatedDeltaGates).
//   cu_seqlens: i32 [S + 1] on the device (as in conv1d.h); state_slots: i32 [S] (distinct);
//   has_initial_state: i32 [S] or nullptr (0: start from S = 0 and ignore the slot's content).
//   state_pool: f32 [num_slots, Hv, Dk, Dv], each used slot read and overwritten with the final
//   state. out: f32 [N, Hv*Dv] (head j at column j*Dv), rows out_stride apart; must not overlap
//   the inputs or the pool.
// cudaErrorInvalidValue for unsupported shapes, cudaErrorNotSupported when the variant's shared
// memory does not fit the device, otherwise the launch error.
cudaError_t GatedDeltaRuleChunkedVarlen(const float* q, const float* k, const float* v,
                                        const float* g, const float* beta,
                                        const int32_t* cu_seqlens, const int32_t* state_slots,
                                        const int32_t* has_initial_state, float* state_pool,
                                        float* out, const GatedDeltaRuleVarlenParams& p,
                                        cudaStream_t stream);

struct GatedDeltaRuleDecodeParams {
  int64_t num_seqs = 0;  // S: one token per sequence, token row s belongs to sequence s (<= 65535)
  int64_t num_heads_k = 0;
  int64_t num_heads_v = 0;
  int64_t head_dim_k = 0;
  int64_t head_dim_v = 0;
  int64_t qk_stride = 0;
  int64_t v_stride = 0;
  int64_t out_stride = 0;
  GdnVariant variant = GdnVariant::kAuto;
};

// Fused recurrent decode step (MODEL.md 2.7.3): per sequence s and value head j,
// S = exp(g) S; S += k (beta (v - Sᵀk))ᵀ; o = Sᵀ q, with S updated in place in slot
// state_slots[s]. Layouts as GatedDeltaRuleChunkedVarlen with N = S.
cudaError_t GatedDeltaRuleRecurrentDecode(const float* q, const float* k, const float* v,
                                          const float* g, const float* beta,
                                          const int32_t* state_slots, float* state_pool, float* out,
                                          const GatedDeltaRuleDecodeParams& p, cudaStream_t stream);

// Dynamic shared memory (bytes) one block of the chunked kernel needs for head_dim_k under
// `variant` (kDefault or kGb10); 0 for an unknown variant. Lets callers check support up front.
int64_t GatedDeltaRuleChunkedSharedBytes(GdnVariant variant, int64_t head_dim_k);

}  // namespace qwen::kernels::cuda

// CUDA gated delta rule of Gated DeltaNet (MODEL.md 2.7.2-2.7.4), fp32 math and fp32 state, over a
// flattened varlen batch with per-sequence state slots. The same function as the CPU references
// GatedDeltaRuleChunked / GatedDeltaRuleRecurrent / GatedDeltaGates (kernels/gated_delta_rule.h).
//
// Recurrent state pool layout (one per linear-attention layer): f32 [num_slots, Hv, Dk, Dv],
// S[k][v] row-major per value head (the CPU / HF layout, not vLLM's transposed [.., Dv, Dk]).
//
// Kernels (fp32 SIMT; no tensor cores, so results stay fp32-faithful):
//   * chunked prefill (chunks of 32 tokens), two launches (detail/gated_delta_rule_core.h):
//     1. chunk-parallel, one block per (token tile, key head): everything that does not depend on
//        the recurrent state, per chunk and value head: the decays γ, Γ, A = strict-lower(diag(β)
//        (K Kᵀ ⊙ Γ)), T = (I + A)^-1 by forward substitution, P = tril(Q Kᵀ ⊙ Γ), into the
//        caller's workspace;
//     2. sequential over chunks, one block per (value-column tile, value head, sequence), state
//        tile in shared memory: V' = T diag(β) (V - diag(e^γ) K S), O = diag(e^γ) Q S + P V',
//        S <- e^{γ_last} S + (diag(e^{γ_last - γ}) K)ᵀ V' (MODEL.md 2.7.4, algebraically
//        regrouped), the next chunk's inputs loading while the current one is computed.
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

// Chunked prefill (and multi-token continuation) of S sequences in one launch (two kernels).
//   q, k: f32, token t head i at [t*qk_stride + i*Dk] (already L2-normalised; q already scaled by
//         Dk^-1/2: L2NormHeads in kernels/cuda/rms_norm.h); v: f32, token t head j at
//         [t*v_stride + j*Dv]; g, beta: f32 [N, Hv] (GatedDeltaGates).
//   cu_seqlens: i32 [S + 1] on the device (as in conv1d.h); state_slots: i32 [S] (distinct);
//   has_initial_state: i32 [S] or nullptr (0: start from S = 0 and ignore the slot's content).
//   state_pool: f32 [num_slots, Hv, Dk, Dv], each used slot read and overwritten with the final
//   state. out: f32 [N, Hv*Dv] (head j at column j*Dv), rows out_stride apart; must not overlap
//   the inputs or the pool.
//   workspace: device scratch of GatedDeltaRuleChunkedWorkspaceBytes(p) bytes, 16-byte aligned,
//   overlapping nothing else; its contents on entry do not matter (nullptr allowed when
//   num_tokens == 0). No allocation and no synchronisation: the call can be captured in a graph.
// q/k/v/out rows that are 16-byte aligned (strides and Dv multiples of 4) are moved as vectors;
// any other layout is supported too, element by element.
// cudaErrorInvalidValue for unsupported shapes or a missing / misaligned workspace,
// cudaErrorNotSupported when the variant's shared memory does not fit the device, otherwise the
// launch error.
cudaError_t GatedDeltaRuleChunkedVarlen(const float* q, const float* k, const float* v,
                                        const float* g, const float* beta,
                                        const int32_t* cu_seqlens, const int32_t* state_slots,
                                        const int32_t* has_initial_state, float* state_pool,
                                        float* out, void* workspace,
                                        const GatedDeltaRuleVarlenParams& p, cudaStream_t stream);

// Bytes of workspace GatedDeltaRuleChunkedVarlen needs for p.num_tokens rows and p.num_heads_v
// value heads under p.variant (kAuto: enough for every variant, so a buffer sized at load works
// whichever variant the device resolves to). Proportional to num_tokens * Hv (~272 bytes per
// token and value head); independent of the number of sequences. 0 when num_tokens <= 0 or an
// unknown variant.
int64_t GatedDeltaRuleChunkedWorkspaceBytes(const GatedDeltaRuleVarlenParams& p);

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

// Dynamic shared memory (bytes) per block the chunked kernels need for head_dim_k under `variant`
// (kDefault or kGb10; the larger of the two kernels); 0 for an unknown variant. Lets callers
// check support up front.
int64_t GatedDeltaRuleChunkedSharedBytes(GdnVariant variant, int64_t head_dim_k);

}  // namespace qwen::kernels::cuda

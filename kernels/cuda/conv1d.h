// CUDA causal depthwise conv1d + SiLU of Gated DeltaNet over a flattened varlen batch, with the
// conv state kept per sequence in a slot pool (MODEL.md 2.7.2 step 2, 2.7.6). The same math as
// kernels/cpu/conv1d.cc (the reference the tests compare against).
//
// Conv state pool layout: f32 [num_slots, Kc-1, C]: for each slot the last Kc-1 pre-conv inputs
// u of its sequence, oldest first (zeros at sequence start), i.e. the CPU `state` of one
// sequence per slot.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/gdn_variant.h"

namespace qwen::kernels::cuda {

// Supported: 1 <= Kc <= kMaxConvKernel, any channel count, any strides >= C.
inline constexpr int64_t kMaxConvKernel = 4;

struct CausalConv1dVarlenParams {
  int64_t num_tokens = 0;  // N: rows of u / out (== cu_seqlens[num_seqs])
  int64_t num_seqs = 0;    // S (<= 65535)
  int64_t channels = 0;    // C = conv_dim
  int64_t kernel = 4;      // Kc
  int64_t u_stride = 0;    // elements between consecutive rows of u (>= C)
  int64_t out_stride = 0;  // elements between consecutive rows of out (>= C)
  GdnVariant variant = GdnVariant::kAuto;
};

// Prefill / multi-token continuation of S sequences in one launch.
//   u:          bf16 [N, C], rows u_stride apart: the pre-conv inputs (in_proj_qkv output).
//   w:          bf16 [C, Kc]; TRAP: w[c][Kc-1] multiplies the current token, w[c][0] the oldest.
//   cu_seqlens: i32 [S + 1] on the device; sequence s owns rows [cu_seqlens[s], cu_seqlens[s+1])
//               (non-decreasing, cu_seqlens[0] = 0; empty sequences allowed).
//   state_slots:       i32 [S] on the device: the slot of sequence s in conv_state_pool (distinct).
//   has_initial_state: i32 [S] on the device or nullptr. nullptr or non-zero: sequence s continues
//               from its slot's state; 0: it starts from zeros (the slot's old content is ignored,
//               so fresh slots need no memset).
//   conv_state_pool:   f32 [num_slots, Kc-1, C]: read, then updated to the last Kc-1 inputs of
//               [state ; u_s] (a sequence shorter than Kc-1 shifts part of its old state forward).
//   out:        f32 [N, C], rows out_stride apart: silu(conv). Must not overlap u or the pool.
// Two kernels on `stream` (outputs, then the state update). Errors are returned, never thrown:
// cudaErrorInvalidValue for bad arguments, otherwise the launch error.
cudaError_t CausalConv1dSiluVarlen(const __nv_bfloat16* u, const __nv_bfloat16* w,
                                   const int32_t* cu_seqlens, const int32_t* state_slots,
                                   const int32_t* has_initial_state, float* conv_state_pool,
                                   float* out, const CausalConv1dVarlenParams& p,
                                   cudaStream_t stream);

struct CausalConv1dUpdateParams {
  int64_t num_seqs = 0;    // S: one new token per sequence (<= 65535)
  int64_t channels = 0;    // C
  int64_t kernel = 4;      // Kc
  int64_t u_stride = 0;    // elements between consecutive rows of u (>= C)
  int64_t out_stride = 0;  // elements between consecutive rows of out (>= C)
  GdnVariant variant = GdnVariant::kAuto;
};

// Decode: row s of u is the new token of sequence s; its slot's state is read and shifted in
// place (the single-token case of CausalConv1dSiluVarlen, one kernel).
//   u: bf16 [S, C]; w: bf16 [C, Kc]; state_slots: i32 [S]; conv_state_pool: f32 [slots, Kc-1, C];
//   out: f32 [S, C].
cudaError_t CausalConv1dSiluUpdate(const __nv_bfloat16* u, const __nv_bfloat16* w,
                                   const int32_t* state_slots, float* conv_state_pool, float* out,
                                   const CausalConv1dUpdateParams& p, cudaStream_t stream);

}  // namespace qwen::kernels::cuda

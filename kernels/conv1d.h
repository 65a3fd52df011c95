// Causal depthwise conv1d + SiLU with a rolling conv state (Gated DeltaNet, MODEL.md 2.7.2 step 2).
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

struct CausalConv1dParams {
  int64_t num_tokens;  // T (1 for a decode step)
  int64_t channels;    // C = conv_dim
  int64_t kernel;      // Kc
  int64_t u_stride;    // elements between consecutive input rows
};

// u: f32 [T, C] (pre-conv inputs), w: f32 [C, Kc] (w[c][Kc-1] multiplies the current token),
// state: f32 [Kc-1, C], the previous Kc-1 inputs oldest first (zeros at sequence start), updated in
// place to the last Kc-1 inputs; out: f32 [T, C] contiguous, out = silu(conv).
void CausalConv1dSilu(const float* u, const float* w, float* state, float* out,
                      const CausalConv1dParams& p);

}  // namespace qwen::kernels::cpu

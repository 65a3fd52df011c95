// The two GELU activations of the vision encoder (MODEL.md 4.4 / 4.5).
// TRAP: the ViT blocks use the tanh approximation (hidden_act "gelu_pytorch_tanh") but the patch
// merger uses the exact erf form (nn.GELU()); mixing them up shifts outputs by ~1e-3 relative.
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

// out[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); out may alias x.
void GeluTanh(const float* x, float* out, int64_t n);

// out[i] = 0.5 x (1 + erf(x / sqrt(2))); out may alias x.
void GeluErf(const float* x, float* out, int64_t n);

}  // namespace qwen::kernels::cpu

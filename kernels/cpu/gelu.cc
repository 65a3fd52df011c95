// CPU fp32 references of the GELU activations (kernels/gelu.h), written as PyTorch's CPU kernels
// write them (aten GeluKernel: kBeta = sqrt(2) * (2/sqrt(pi)) * 0.5, kKappa = 0.044715).
#include "kernels/gelu.h"

#include <cmath>

namespace qwen::kernels::cpu {

void GeluTanh(const float* x, float* out, int64_t n) {
  constexpr float kBeta = 0.7978845608028654f;  // sqrt(2 / pi)
  constexpr float kKappa = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float inner = kBeta * (v + kKappa * v * v * v);
    out[i] = 0.5f * v * (1.0f + std::tanh(inner));
  }
}

void GeluErf(const float* x, float* out, int64_t n) {
  constexpr float kInvSqrt2 = 0.7071067811865476f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    out[i] = v * 0.5f * (1.0f + std::erf(v * kInvSqrt2));
  }
}

}  // namespace qwen::kernels::cpu

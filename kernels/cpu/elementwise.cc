#include "kernels/elementwise.h"

#include <cmath>
#include <cstring>

namespace qwen::kernels::cpu {

void SiluMul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void MulSigmoid(float* x, const float* gate, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= 1.0f / (1.0f + std::exp(-gate[i]));
}

void Add(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void EmbeddingGather(const float* table, const int64_t* ids, float* out, int64_t n, int64_t dim) {
  for (int64_t r = 0; r < n; ++r) {
    std::memcpy(out + r * dim, table + ids[r] * dim, static_cast<size_t>(dim) * sizeof(float));
  }
}

}  // namespace qwen::kernels::cpu

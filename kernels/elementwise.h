// Small element-wise ops of the decoder.
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

// out[i] = silu(gate[i]) * up[i]; out may alias gate or up.
void SiluMul(const float* gate, const float* up, float* out, int64_t n);

// x[i] *= sigmoid(gate[i]) (the output gate of gated attention); contiguous, n elements.
void MulSigmoid(float* x, const float* gate, int64_t n);

// out[i] = a[i] + b[i]; out may alias a or b.
void Add(const float* a, const float* b, float* out, int64_t n);

// out[r] = table[ids[r]] for r < n; rows of `dim` elements. ids must be in range (callers
// validate token ids before calling).
void EmbeddingGather(const float* table, const int64_t* ids, float* out, int64_t n, int64_t dim);

}  // namespace qwen::kernels::cpu

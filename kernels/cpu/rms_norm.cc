// CPU fp32 references of the RMSNorm variants (kernels/rms_norm.h, MODEL.md 2.3 and 2.7.2 step 5).
#include "kernels/rms_norm.h"

#include <cmath>

namespace qwen::kernels::cpu {
namespace {

// Sum of squares in fp32 with 8 independent partial sums (vectorisable, and closer to the exact
// value than one running sum, like the tree reductions of PyTorch and the CUDA kernels).
float SumSquares(const float* x, int64_t n) {
  float acc[8] = {};
  const int64_t n_main = n - n % 8;
  for (int64_t i = 0; i < n_main; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += x[i + l] * x[i + l];
  }
  float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  for (int64_t i = n_main; i < n; ++i) s += x[i] * x[i];
  return s;
}

}  // namespace

void RmsNorm(const float* x, const float* w, float* y, const RmsNormParams& p) {
  for (int64_t r = 0; r < p.rows; ++r) {
    const float* xr = x + r * p.x_stride;
    float* yr = y + r * p.y_stride;
    const float mean = SumSquares(xr, p.dim) / static_cast<float>(p.dim);
    const float inv = 1.0f / std::sqrt(mean + p.eps);
    // TRAP: Qwen3_5RMSNorm multiplies by (1 + w) (weight_offset = 1); the normalised value is
    // formed first, then scaled, as HF does (x * rsqrt(...)) * (1 + w). Element i is read before
    // it is written, so y may alias x.
    for (int64_t i = 0; i < p.dim; ++i) yr[i] = (xr[i] * inv) * (p.weight_offset + w[i]);
  }
}

void GatedRmsNorm(const float* x, const float* z, const float* w, float* y, int64_t rows,
                  int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    const float* zr = z + r * dim;
    float* yr = y + r * dim;
    const float mean = SumSquares(xr, dim) / static_cast<float>(dim);
    const float inv = 1.0f / std::sqrt(mean + eps);
    // TRAP: plain weight here (no +1), and the norm comes before the gate (MODEL.md 2.3 item 2):
    // HF computes (w * normed) * silu(z).
    for (int64_t i = 0; i < dim; ++i) {
      const float zi = zr[i];
      const float silu = zi / (1.0f + std::exp(-zi));
      yr[i] = (w[i] * (xr[i] * inv)) * silu;
    }
  }
}

void L2NormHeads(float* x, int64_t rows, int64_t heads, int64_t dim, int64_t row_stride, float eps,
                 float scale) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      float* xh = x + r * row_stride + h * dim;
      // TRAP: eps is added to the *sum* of squares (FLA l2norm), not to the mean.
      const float inv = 1.0f / std::sqrt(SumSquares(xh, dim) + eps);
      for (int64_t i = 0; i < dim; ++i) xh[i] = (xh[i] * inv) * scale;
    }
  }
}

}  // namespace qwen::kernels::cpu

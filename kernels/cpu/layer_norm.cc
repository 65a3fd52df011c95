// CPU fp32 reference of LayerNorm (kernels/layer_norm.h).
#include "kernels/layer_norm.h"

#include <cmath>

namespace qwen::kernels::cpu {
namespace {

// Sum with 8 independent partial sums (vectorisable; closer to the exact value than one running
// sum, like PyTorch's cascaded reductions).
float Sum(const float* x, int64_t n) {
  float acc[8] = {};
  const int64_t n_main = n - n % 8;
  for (int64_t i = 0; i < n_main; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += x[i + l];
  }
  float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  for (int64_t i = n_main; i < n; ++i) s += x[i];
  return s;
}

float SumSquaredDeviations(const float* x, float mean, int64_t n) {
  float acc[8] = {};
  const int64_t n_main = n - n % 8;
  for (int64_t i = 0; i < n_main; i += 8) {
    for (int l = 0; l < 8; ++l) {
      const float d = x[i + l] - mean;
      acc[l] += d * d;
    }
  }
  float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  for (int64_t i = n_main; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

}  // namespace

void LayerNorm(const float* x, const float* w, const float* b, float* y, const LayerNormParams& p) {
  const float inv_dim = 1.0f / static_cast<float>(p.dim);
  for (int64_t r = 0; r < p.rows; ++r) {
    const float* xr = x + r * p.x_stride;
    float* yr = y + r * p.y_stride;
    // Two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2, which cancels badly
    // when |mean| >> std (residual streams drift).
    const float mean = Sum(xr, p.dim) * inv_dim;
    const float var = SumSquaredDeviations(xr, mean, p.dim) * inv_dim;  // biased, as torch
    const float rstd = 1.0f / std::sqrt(var + p.eps);
    // Element i is read before it is written, so y may alias x.
    for (int64_t i = 0; i < p.dim; ++i) {
      const float v = (xr[i] - mean) * rstd * w[i];
      yr[i] = b != nullptr ? v + b[i] : v;
    }
  }
}

}  // namespace qwen::kernels::cpu

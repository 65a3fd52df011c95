// RMSNorm variants of the Qwen3.5 text model (MODEL.md 2.3).
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

// y[r] = x[r] * rsqrt(mean(x[r]^2) + eps) * (weight_offset + w), per row of `dim` elements.
// TRAP: Qwen3_5RMSNorm stores w as an offset from 1, so it is called with weight_offset = 1.
// x, y: f32 [rows, dim] with row strides x_stride / y_stride (elements); y may alias x.
struct RmsNormParams {
  int64_t rows;
  int64_t dim;
  int64_t x_stride;
  int64_t y_stride;
  float eps;
  float weight_offset;
};
void RmsNorm(const float* x, const float* w, float* y, const RmsNormParams& p);

// Gated RMSNorm (Qwen3_5RMSNormGated, linear_attn.norm): plain weight, norm before the gate:
// y = w * (x * rsqrt(mean(x^2) + eps)) * silu(z). x, z, y: f32 [rows, dim] contiguous; y may
// alias x.
void GatedRmsNorm(const float* x, const float* z, const float* w, float* y, int64_t rows,
                  int64_t dim, float eps);

// Per-head L2 normalisation used by Gated DeltaNet on q and k (MODEL.md 2.7.2 step 5):
// x_h <- x_h / sqrt(sum(x_h^2) + eps) * scale, in place, for `heads` heads of `dim` elements per
// row; rows are `row_stride` elements apart.
void L2NormHeads(float* x, int64_t rows, int64_t heads, int64_t dim, int64_t row_stride, float eps,
                 float scale);

}  // namespace qwen::kernels::cpu

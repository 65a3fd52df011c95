// LayerNorm with weight and bias (the vision encoder's norm1/norm2/merger.norm, MODEL.md 4.4/4.5).
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

struct LayerNormParams {
  int64_t rows;
  int64_t dim;       // normalised size (Hvis)
  int64_t x_stride;  // elements between consecutive input rows
  int64_t y_stride;  // elements between consecutive output rows
  float eps;         // 1e-6 in the vision encoder (not PyTorch's 1e-5 default)
};

// y[r] = (x[r] - mean) * rsqrt(var + eps) * w + b per row, with the biased variance (mean of the
// squared deviations, as torch.nn.LayerNorm). x, y: f32 [rows, dim] with row strides; w, b: f32
// [dim] (b may be nullptr). Statistics in fp32; y may alias x.
void LayerNorm(const float* x, const float* w, const float* b, float* y, const LayerNormParams& p);

}  // namespace qwen::kernels::cpu

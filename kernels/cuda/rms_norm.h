// CUDA RMSNorm variants of the Qwen3.5 text model (MODEL.md 2.3, 2.7.2 step 5): the twins of
// kernels/cpu RmsNorm, GatedRmsNorm and L2NormHeads, plus the fused residual add + RMSNorm of the
// decoder layer (MODEL.md 2.4). All reductions and products in fp32, one rounding to bf16 at the
// end. A "row" is (token t, head h) at base + t*token_stride + h*head_stride, `dim` contiguous
// elements; rows of up to 1024 elements use one warp, longer rows one 256-thread block; 16-byte
// accesses when every pointer and stride allows.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen::kernels::cuda {

struct RmsNormParams {
  int64_t num_tokens = 0;
  int64_t num_heads = 1;       // 1 for a plain [T, dim] norm; Hq / Hkv for q_norm / k_norm
  int64_t dim = 0;             // elements per row (H, or D per head)
  int64_t x_token_stride = 0;  // elements
  int64_t x_head_stride = 0;
  int64_t y_token_stride = 0;
  int64_t y_head_stride = 0;
  float eps = 1e-6f;
  float weight_offset = 1.0f;  // TRAP: Qwen3_5RMSNorm stores w as an offset from 1 -> 1
};

// y = x * rsqrt(mean(x^2) + eps) * (weight_offset + w) per row. x, y: bf16 rows as above (y may
// alias x: in-place q/k norm); w: bf16 [dim].
cudaError_t RmsNorm(const __nv_bfloat16* x, const __nv_bfloat16* w, __nv_bfloat16* y,
                    const RmsNormParams& p, cudaStream_t stream);

struct AddRmsNormParams {
  int64_t num_tokens = 0;
  int64_t dim = 0;
  int64_t x_stride = 0;         // elements between token rows of x
  int64_t residual_stride = 0;  // ... of residual
  int64_t y_stride = 0;         // ... of y
  float eps = 1e-6f;
  float weight_offset = 1.0f;
};

// Fused residual add + RMSNorm (decoder layer, MODEL.md 2.4):
//   residual = bf16(residual + x);  y = RmsNorm(residual) (normalising the rounded value).
// The residual stream is kept in bf16, exactly as HF does (h = r + h in the activation dtype),
// so the fused op matches the unfused HF sequence. x, residual, y: bf16 [T, dim]; y may alias x.
cudaError_t AddRmsNorm(const __nv_bfloat16* x, __nv_bfloat16* residual, const __nv_bfloat16* w,
                       __nv_bfloat16* y, const AddRmsNormParams& p, cudaStream_t stream);

struct GatedRmsNormParams {
  int64_t num_tokens = 0;
  int64_t num_heads = 1;  // Hv
  int64_t dim = 0;        // Dv
  int64_t x_token_stride = 0;
  int64_t x_head_stride = 0;
  int64_t z_token_stride = 0;
  int64_t z_head_stride = 0;
  int64_t y_token_stride = 0;
  int64_t y_head_stride = 0;
  float eps = 1e-6f;
};

// Gated RMSNorm (Qwen3_5RMSNormGated, linear_attn.norm): plain weight, norm before the gate,
//   y = (w * (x * rsqrt(mean(x^2) + eps))) * silu(z), all in fp32, one rounding to bf16.
// x: f32 rows (the delta-rule output); z: bf16 rows (in_proj_z output); w: bf16 [dim];
// y: bf16 rows. (HF rounds the normalised value and w*n to bf16 in between; we do not.)
cudaError_t GatedRmsNorm(const float* x, const __nv_bfloat16* z, const __nv_bfloat16* w,
                         __nv_bfloat16* y, const GatedRmsNormParams& p, cudaStream_t stream);

struct L2NormHeadsParams {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t dim = 0;           // elements per head; heads contiguous within a token row
  int64_t token_stride = 0;  // elements between token rows
  float eps = 1e-6f;         // TRAP: added to the *sum* of squares (FLA l2norm)
  float scale = 1.0f;        // Dk^-1/2 for q, 1 for k
};

// x_h <- x_h / sqrt(sum(x_h^2) + eps) * scale, in place on f32 (the conv output's q and k).
cudaError_t L2NormHeads(float* x, const L2NormHeadsParams& p, cudaStream_t stream);

}  // namespace qwen::kernels::cuda

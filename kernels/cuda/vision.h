// CUDA twins of the vision encoder's element-wise ops (MODEL.md 4.2-4.5): LayerNorm with weight and
// bias (kernels/layer_norm.h), bias + GELU in the tanh and erf forms (kernels/gelu.h), the 2-D
// vision RoPE (kernels/vision_rope.h) and the bilinear position-embedding resampling
// (kernels/vision_pos_embed.h); and two fusions of the encoder block that round exactly where the
// unfused launches do: BiasResidualLayerNorm (bias + residual add + LayerNorm) and BiasVisionRope
// (qkv bias + RoPE). bf16 activations and weights, fp32 arithmetic in the CPU reference's
// operation order, one rounding to bf16 at the end. The block programs are in
// detail/vision_core.h, the warp-per-row norms in detail/vision_norm.cuh (both also run by the CPU
// emulation tests). Segment attention is in kernels/cuda/vision_attention.h.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen::kernels::cuda {

struct LayerNormParams {
  int64_t rows = 0;
  int64_t dim = 0;       // Hvis (<= 1 << 20)
  int64_t x_stride = 0;  // elements between consecutive rows of x (>= dim)
  int64_t y_stride = 0;  // ... of y (>= dim)
  float eps = 1e-6f;     // the vision encoder's eps (not PyTorch's 1e-5 default)
};

// y[r] = (x[r] - mean) * rsqrt(var + eps) * w + b per row, biased variance, two-pass statistics
// in fp32. x, y: bf16 rows (y may alias x with the same stride); w: bf16 [dim]; b: bf16 [dim] or
// nullptr. Rows of dim <= kFusedLayerNormMaxDim, a multiple of 8, with 16-byte aligned pointers and
// strides run one warp per row and give the same bits as BiasResidualLayerNorm's normed output;
// other rows a block per row (the same formulas, another order of the fp32 sums).
cudaError_t LayerNorm(const __nv_bfloat16* x, const __nv_bfloat16* w, const __nv_bfloat16* b,
                      __nv_bfloat16* y, const LayerNormParams& p, cudaStream_t stream);

// The widest row BiasResidualLayerNorm takes (a row lives in one warp's registers).
inline constexpr int64_t kFusedLayerNormMaxDim = 4096;

struct BiasResidualLayerNormParams {
  int64_t rows = 0;
  int64_t dim = 0;              // a multiple of 8, <= kFusedLayerNormMaxDim
  int64_t acc_stride = 0;       // elements between rows of acc (>= dim, a multiple of 4)
  int64_t residual_stride = 0;  // ... of residual (>= dim, a multiple of 8)
  int64_t normed_stride = 0;    // ... of normed (>= dim, a multiple of 8; unused without normed)
  float eps = 1e-6f;
};

// The end of a linear layer that feeds the residual stream, and the norm after it, in one pass:
//   t = bf16(acc + bias)              (Gemm with a bias: one rounding)
//   residual = bf16(residual + t)     (Add)
//   normed = LayerNorm(residual; w, b, eps)   (LayerNorm on the rounded residual)
// bit for bit as those three launches. acc: the fp32 product of GemmF32Out (no bias); bias: bf16
// [dim] or nullptr (t = bf16(acc)); residual: bf16 rows, updated in place; w: bf16 [dim]; b: bf16
// [dim] or nullptr; normed: bf16 rows, or nullptr for the residual update alone (w, b unused).
// Every pointer 16-byte aligned; acc overlaps nothing, normed does not overlap residual.
// cudaErrorInvalidValue otherwise (there is no fallback for other shapes).
cudaError_t BiasResidualLayerNorm(const float* acc, const __nv_bfloat16* bias,
                                  __nv_bfloat16* residual, const __nv_bfloat16* w,
                                  const __nv_bfloat16* b, __nv_bfloat16* normed,
                                  const BiasResidualLayerNormParams& p, cudaStream_t stream);

enum class GeluKind {
  kTanh,  // gelu_pytorch_tanh: the ViT block MLPs
  kErf,   // exact nn.GELU(): the patch merger (TRAP: not the tanh form)
};

struct BiasGeluParams {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t x_stride = 0;    // elements between rows of x (>= cols)
  int64_t out_stride = 0;  // elements between rows of out (>= cols)
  GeluKind kind = GeluKind::kTanh;
};

// out = gelu(x + bias) per element, bias per column (nullptr: none), fp32 in between, one
// rounding. The bf16-x form may run in place (out == x, same stride); the fp32-x form takes the
// fp32 output of GemmF32Out so that the linear layer's bias add and the activation round once.
cudaError_t BiasGelu(const __nv_bfloat16* x, const __nv_bfloat16* bias, __nv_bfloat16* out,
                     const BiasGeluParams& p, cudaStream_t stream);
cudaError_t BiasGelu(const float* x, const __nv_bfloat16* bias, __nv_bfloat16* out,
                     const BiasGeluParams& p, cudaStream_t stream);

struct VisionRopeParams {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;      // hd_v: a multiple of 4, <= 256 (the whole head rotates)
  int64_t token_stride = 0;  // elements between consecutive tokens' first head
  int64_t head_stride = 0;   // elements between heads of one token
  double theta = 10000.0;
};

// Rotates bf16 x in place: with F = head_dim / 4 frequencies inv_freq[i] = theta^(-2i / (hd/2))
// (fp32, as HF), angles [r * inv_freq | c * inv_freq] and NeoX pairs (j, j + hd/2). rows, cols:
// the un-merged patch coordinates of each token, [num_tokens] on the device.
cudaError_t ApplyVisionRope(__nv_bfloat16* x, const int64_t* rows, const int64_t* cols,
                            const VisionRopeParams& p, cudaStream_t stream);
cudaError_t ApplyVisionRope(__nv_bfloat16* x, const int32_t* rows, const int32_t* cols,
                            const VisionRopeParams& p, cudaStream_t stream);

struct BiasVisionRopeParams {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;   // rotated heads: columns [0, num_heads * head_dim), head after head
  int64_t head_dim = 0;    // hd_v: a multiple of 4, <= 256
  int64_t dim = 0;         // elements of a row (>= num_heads * head_dim); the rest only rounds
  int64_t acc_stride = 0;  // elements between rows of acc (>= dim)
  int64_t out_stride = 0;  // elements between rows of out (>= dim)
  double theta = 10000.0;
};

// The end of the qkv projection in one pass: out = bf16(acc + bias) per element (one rounding, as
// Gemm with a bias), then ApplyVisionRope on the first num_heads heads of each row (q and k:
// 2 * heads of the [N, 3 * Hvis] layout), bit for bit as those two launches. acc: fp32
// [num_tokens, dim] (GemmF32Out, no bias); bias: bf16 [dim] or nullptr; out: bf16, not
// overlapping acc; rows, cols: the patch coordinates as in ApplyVisionRope.
cudaError_t BiasVisionRope(const float* acc, const __nv_bfloat16* bias, __nv_bfloat16* out,
                           const int64_t* rows, const int64_t* cols, const BiasVisionRopeParams& p,
                           cudaStream_t stream);
cudaError_t BiasVisionRope(const float* acc, const __nv_bfloat16* bias, __nv_bfloat16* out,
                           const int32_t* rows, const int32_t* cols, const BiasVisionRopeParams& p,
                           cudaStream_t stream);

struct VisionPosEmbedParams {
  int64_t side = 48;            // S: the table is S x S rows, index y * S + x
  int64_t dim = 0;              // Hvis
  int64_t height = 0;           // h: patch rows of the image
  int64_t width = 0;            // w: patch columns
  int64_t merge_size = 2;       // m: rows in m x m merge-block order (h, w multiples of m)
  int64_t num_frames = 1;       // t: every temporal slice repeats the embedding
  int64_t residual_stride = 0;  // elements between rows of residual
  int64_t out_stride = 0;       // elements between rows of out
};

// out[n] = residual[n] + pe(n mod h*w) for the t*h*w rows of one image or video (residual
// nullptr: out = pe), pe the bilinear (align_corners) resampling of table (bf16 [S*S, dim]) in
// fp32 as kernels/cpu BilinearPosEmbed, one rounding. out may alias residual (same stride).
cudaError_t VisionPosEmbed(const __nv_bfloat16* table, const __nv_bfloat16* residual,
                           __nv_bfloat16* out, const VisionPosEmbedParams& p, cudaStream_t stream);

}  // namespace qwen::kernels::cuda

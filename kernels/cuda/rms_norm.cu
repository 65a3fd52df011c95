// RMSNorm variants (kernels/cuda/rms_norm.h). One kernel template walks the rows (a warp per row
// up to 1024 elements, a block per row beyond) and an Op supplies what a row reads and writes.
#include "kernels/cuda/detail/launch_util.cuh"
#include "kernels/cuda/detail/vec.cuh"
#include "kernels/cuda/rms_norm.h"

namespace qwen::kernels::cuda {
namespace detail {
namespace {

constexpr int kNormThreads = 256;

// Sum of v over the kTpr threads of a row (kTpr = 32: one warp; kTpr = kNormThreads: the block).
template <int kTpr>
__device__ __forceinline__ float RowSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if constexpr (kTpr == 32) {
    return v;
  } else {
    __shared__ float part[kTpr / 32];
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
    __syncthreads();
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < kTpr / 32; ++w) s += part[w];
    return s;
  }
}

template <int kTpr, int V, class Op>
__global__ void __launch_bounds__(kNormThreads)
    RowNormKernel(Op op, int64_t rows, int64_t num_heads, int64_t dim) {
  constexpr int kRowsPerBlock = kNormThreads / kTpr;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kTpr;
  if (row >= rows) return;  // uniform per warp (kTpr = 32) or per block (kTpr = 256)
  const int lane = static_cast<int>(threadIdx.x % kTpr);
  const int64_t t = row / num_heads, h = row - t * num_heads;
  float ss = 0.0f;
  for (int64_t i = static_cast<int64_t>(lane) * V; i < dim; i += static_cast<int64_t>(kTpr) * V) {
    ss += op.template SumSquares<V>(t, h, i);
  }
  ss = RowSum<kTpr>(ss);
  const float inv = op.Inverse(ss, dim);
  for (int64_t i = static_cast<int64_t>(lane) * V; i < dim; i += static_cast<int64_t>(kTpr) * V) {
    op.template Write<V>(t, h, i, inv);
  }
}

template <int V, class Op>
cudaError_t LaunchRowNorm(const Op& op, int64_t num_tokens, int64_t num_heads, int64_t dim,
                          cudaStream_t stream) {
  const int64_t rows = num_tokens * num_heads;
  if (rows == 0) return cudaSuccess;
  if (dim <= 1024) {
    constexpr int kTpr = 32;
    const int64_t grid = CeilDiv<int64_t>(rows, kNormThreads / kTpr);
    QWEN_CUDA_CHECK_ARG(grid <= 0x7fffffff);
    RowNormKernel<kTpr, V, Op>
        <<<static_cast<unsigned>(grid), kNormThreads, 0, stream>>>(op, rows, num_heads, dim);
  } else {
    constexpr int kTpr = kNormThreads;
    QWEN_CUDA_CHECK_ARG(rows <= 0x7fffffff);
    RowNormKernel<kTpr, V, Op>
        <<<static_cast<unsigned>(rows), kNormThreads, 0, stream>>>(op, rows, num_heads, dim);
  }
  return cudaGetLastError();
}

// Runs LaunchRowNorm with V = kFast when `vec_ok`, else V = 1. Supported set: {kFast, 1}.
template <int kFast, class Op>
cudaError_t DispatchVec(bool vec_ok, const Op& op, int64_t num_tokens, int64_t num_heads,
                        int64_t dim, cudaStream_t stream) {
  return vec_ok ? LaunchRowNorm<kFast>(op, num_tokens, num_heads, dim, stream)
                : LaunchRowNorm<1>(op, num_tokens, num_heads, dim, stream);
}

float __device__ __forceinline__ RmsInverse(float ss, int64_t dim, float eps) {
  // As the CPU reference: mean = sum / dim; inv = 1 / sqrt(mean + eps) (IEEE sqrt and division).
  return 1.0f / sqrtf(ss / static_cast<float>(dim) + eps);
}

struct RmsNormOp {
  const __nv_bfloat16* x;
  const __nv_bfloat16* w;
  __nv_bfloat16* y;
  int64_t xts, xhs, yts, yhs;
  float eps, offset;
  template <int V>
  __device__ float SumSquares(int64_t t, int64_t h, int64_t i) const {
    float v[V];
    LoadF<V>(x + t * xts + h * xhs + i, v);
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < V; ++j) s += v[j] * v[j];
    return s;
  }
  __device__ float Inverse(float ss, int64_t dim) const { return RmsInverse(ss, dim, eps); }
  template <int V>
  __device__ void Write(int64_t t, int64_t h, int64_t i, float inv) const {
    float v[V], wv[V], out[V];
    LoadF<V>(x + t * xts + h * xhs + i, v);
    LoadF<V>(w + i, wv);
#pragma unroll
    for (int j = 0; j < V; ++j) out[j] = (v[j] * inv) * (offset + wv[j]);
    StoreF<V>(y + t * yts + h * yhs + i, out);
  }
};

struct AddRmsNormOp {
  const __nv_bfloat16* x;
  __nv_bfloat16* residual;
  const __nv_bfloat16* w;
  __nv_bfloat16* y;
  int64_t xs, rs, ys;
  float eps, offset;
  // residual <- bf16(residual + x); the sum of squares is taken over the rounded values.
  template <int V>
  __device__ float SumSquares(int64_t t, int64_t, int64_t i) const {
    float a[V], b[V];
    LoadF<V>(x + t * xs + i, a);
    LoadF<V>(residual + t * rs + i, b);
    Vec<__nv_bfloat16, V> r;
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      r.v[j] = __float2bfloat16(b[j] + a[j]);
      const float rf = __bfloat162float(r.v[j]);
      s += rf * rf;
    }
    StoreRaw<V>(residual + t * rs + i, r);
    return s;
  }
  __device__ float Inverse(float ss, int64_t dim) const { return RmsInverse(ss, dim, eps); }
  template <int V>
  __device__ void Write(int64_t t, int64_t, int64_t i, float inv) const {
    float r[V], wv[V], out[V];
    LoadF<V>(residual + t * rs + i, r);  // written by this thread in SumSquares
    LoadF<V>(w + i, wv);
#pragma unroll
    for (int j = 0; j < V; ++j) out[j] = (r[j] * inv) * (offset + wv[j]);
    StoreF<V>(y + t * ys + i, out);
  }
};

struct GatedRmsNormOp {
  const float* x;
  const __nv_bfloat16* z;
  const __nv_bfloat16* w;
  __nv_bfloat16* y;
  int64_t xts, xhs, zts, zhs, yts, yhs;
  float eps;
  template <int V>
  __device__ float SumSquares(int64_t t, int64_t h, int64_t i) const {
    float v[V];
    LoadF<V>(x + t * xts + h * xhs + i, v);
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < V; ++j) s += v[j] * v[j];
    return s;
  }
  __device__ float Inverse(float ss, int64_t dim) const { return RmsInverse(ss, dim, eps); }
  template <int V>
  __device__ void Write(int64_t t, int64_t h, int64_t i, float inv) const {
    float v[V], zv[V], wv[V], out[V];
    LoadF<V>(x + t * xts + h * xhs + i, v);
    LoadF<V>(z + t * zts + h * zhs + i, zv);
    LoadF<V>(w + i, wv);
    // TRAP: plain weight (no +1), norm before the gate: (w * (x * inv)) * silu(z).
#pragma unroll
    for (int j = 0; j < V; ++j) out[j] = (wv[j] * (v[j] * inv)) * Silu(zv[j]);
    StoreF<V>(y + t * yts + h * yhs + i, out);
  }
};

struct L2NormOp {
  float* x;
  int64_t ts, hs;
  float eps, scale;
  template <int V>
  __device__ float SumSquares(int64_t t, int64_t h, int64_t i) const {
    float v[V];
    LoadF<V>(x + t * ts + h * hs + i, v);
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < V; ++j) s += v[j] * v[j];
    return s;
  }
  // TRAP: eps on the sum of squares, not the mean.
  __device__ float Inverse(float ss, int64_t) const { return 1.0f / sqrtf(ss + eps); }
  template <int V>
  __device__ void Write(int64_t t, int64_t h, int64_t i, float inv) const {
    float v[V];
    float* p = x + t * ts + h * hs + i;
    LoadF<V>(p, v);
#pragma unroll
    for (int j = 0; j < V; ++j) v[j] = (v[j] * inv) * scale;
    StoreF<V>(p, v);
  }
};

}  // namespace
}  // namespace detail

cudaError_t RmsNorm(const __nv_bfloat16* x, const __nv_bfloat16* w, __nv_bfloat16* y,
                    const RmsNormParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_heads >= 1 && p.dim >= 1);
  QWEN_CUDA_CHECK_ARG(p.x_token_stride >= 0 && p.x_head_stride >= 0 && p.y_token_stride >= 0 &&
                      p.y_head_stride >= 0);
  if (p.num_tokens == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(x != nullptr && w != nullptr && y != nullptr);
  const detail::RmsNormOp op{x,
                             w,
                             y,
                             p.x_token_stride,
                             p.x_head_stride,
                             p.y_token_stride,
                             p.y_head_stride,
                             p.eps,
                             p.weight_offset};
  const bool vec = p.dim % 8 == 0 && p.x_token_stride % 8 == 0 && p.x_head_stride % 8 == 0 &&
                   p.y_token_stride % 8 == 0 && p.y_head_stride % 8 == 0 &&
                   detail::AllAligned(16, x, w, y);
  return detail::DispatchVec<8>(vec, op, p.num_tokens, p.num_heads, p.dim, stream);
}

cudaError_t AddRmsNorm(const __nv_bfloat16* x, __nv_bfloat16* residual, const __nv_bfloat16* w,
                       __nv_bfloat16* y, const AddRmsNormParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.dim >= 1);
  QWEN_CUDA_CHECK_ARG(p.x_stride >= p.dim && p.residual_stride >= p.dim && p.y_stride >= p.dim);
  if (p.num_tokens == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(x != nullptr && residual != nullptr && w != nullptr && y != nullptr);
  const detail::AddRmsNormOp op{
      x, residual, w, y, p.x_stride, p.residual_stride, p.y_stride, p.eps, p.weight_offset};
  const bool vec = p.dim % 8 == 0 && p.x_stride % 8 == 0 && p.residual_stride % 8 == 0 &&
                   p.y_stride % 8 == 0 && detail::AllAligned(16, x, residual, w, y);
  return detail::DispatchVec<8>(vec, op, p.num_tokens, 1, p.dim, stream);
}

cudaError_t GatedRmsNorm(const float* x, const __nv_bfloat16* z, const __nv_bfloat16* w,
                         __nv_bfloat16* y, const GatedRmsNormParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_heads >= 1 && p.dim >= 1);
  QWEN_CUDA_CHECK_ARG(p.x_token_stride >= 0 && p.x_head_stride >= 0 && p.z_token_stride >= 0 &&
                      p.z_head_stride >= 0 && p.y_token_stride >= 0 && p.y_head_stride >= 0);
  if (p.num_tokens == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(x != nullptr && z != nullptr && w != nullptr && y != nullptr);
  const detail::GatedRmsNormOp op{x,
                                  z,
                                  w,
                                  y,
                                  p.x_token_stride,
                                  p.x_head_stride,
                                  p.z_token_stride,
                                  p.z_head_stride,
                                  p.y_token_stride,
                                  p.y_head_stride,
                                  p.eps};
  const bool vec = p.dim % 4 == 0 && p.x_token_stride % 4 == 0 && p.x_head_stride % 4 == 0 &&
                   p.z_token_stride % 4 == 0 && p.z_head_stride % 4 == 0 &&
                   p.y_token_stride % 4 == 0 && p.y_head_stride % 4 == 0 &&
                   detail::AllAligned(16, x) && detail::AllAligned(8, z, w, y);
  return detail::DispatchVec<4>(vec, op, p.num_tokens, p.num_heads, p.dim, stream);
}

cudaError_t L2NormHeads(float* x, const L2NormHeadsParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_heads >= 1 && p.dim >= 1);
  QWEN_CUDA_CHECK_ARG(p.token_stride >= p.num_heads * p.dim);
  if (p.num_tokens == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(x != nullptr);
  const detail::L2NormOp op{x, p.token_stride, p.dim, p.eps, p.scale};
  const bool vec = p.dim % 4 == 0 && p.token_stride % 4 == 0 && detail::AllAligned(16, x);
  return detail::DispatchVec<4>(vec, op, p.num_tokens, p.num_heads, p.dim, stream);
}

}  // namespace qwen::kernels::cuda

// Vision encoder element-wise launchers (kernels/cuda/vision.h); block programs in
// detail/vision_core.h, warp-per-row norms in detail/vision_norm.cuh.
#include <cmath>
#include <type_traits>

#include "kernels/cuda/detail/launch_util.cuh"
#include "kernels/cuda/detail/vec.cuh"
#include "kernels/cuda/detail/vision_core.h"
#include "kernels/cuda/detail/vision_norm.cuh"
#include "kernels/cuda/vision.h"

namespace qwen::kernels::cuda {
namespace detail {
namespace {

__global__ void __launch_bounds__(kLnThreads) LayerNormKernel(const LayerNormArgs a) {
  __shared__ float smem[kLnSmemFloats];
  LayerNormBlock(DeviceBlock{}, blockIdx.x, a, smem);
}

template <int V, class T>
__global__ void __launch_bounds__(kGeluThreads) BiasGeluKernel(const GeluArgs<T> a) {
  BiasGeluBlock<V>(DeviceBlock{}, blockIdx.x, a);
}

template <class Pos>
__global__ void __launch_bounds__(kVisionRopeThreads)
    VisionRopeKernel(const VisionRopeArgs<Pos> a, const VisionRopeTable table) {
  __shared__ float cos_sin[2 * kVisionRopeMaxFreq * 2];
  VisionRopeBlock<Pos>(DeviceBlock{}, blockIdx.x, a, table, cos_sin);
}

template <int V, class Pos>
__global__ void __launch_bounds__(kVisionRopeThreads)
    BiasVisionRopeKernel(const BiasVisionRopeArgs<Pos> a, const VisionRopeTable table) {
  __shared__ float cos_sin[2 * kVisionRopeMaxFreq * 2];
  BiasVisionRopeBlock<V, Pos>(DeviceBlock{}, blockIdx.x, a, table, cos_sin);
}

__global__ void __launch_bounds__(kPosEmbedThreads) PosEmbedKernel(const PosEmbedArgs a) {
  PosEmbedBlock(DeviceBlock{}, blockIdx.x, a);
}

static_assert(kFusedLayerNormMaxDim == kLnWarpMaxDim);

// Binds the chunks-per-lane instantiation (LnWarpChunks) to a compile-time constant.
template <class F>
cudaError_t DispatchLnWarpChunks(int chunks, F&& launch) {
  switch (chunks) {
#define QWEN_LN_CASE(n) \
  case n:               \
    return launch(std::integral_constant<int, n>{});
    QWEN_LN_WARP_CHUNKS(QWEN_LN_CASE)
#undef QWEN_LN_CASE
    default:
      return cudaErrorInvalidValue;
  }
}

cudaError_t LayerNormWarp(const LayerNormArgs& a, int chunks, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>(LnWarpBlocks(a.rows));
  return DispatchLnWarpChunks(chunks, [&](auto c) {
    LayerNormWarpKernel<decltype(c)::value><<<blocks, kLnWarpThreads, 0, stream>>>(a);
    return cudaGetLastError();
  });
}

cudaError_t BiasResidualLayerNormWarp(const BiasResidualLnArgs& a, int chunks,
                                      cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>(LnWarpBlocks(a.rows));
  return DispatchLnWarpChunks(chunks, [&](auto c) {
    BiasResidualLayerNormKernel<decltype(c)::value><<<blocks, kLnWarpThreads, 0, stream>>>(a);
    return cudaGetLastError();
  });
}

template <int V, class T>
cudaError_t LaunchGelu(const GeluArgs<T>& a, cudaStream_t stream) {
  const int64_t blocks = GeluBlocks<V>(a);
  if (blocks == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(blocks <= 0x7fffffff);
  BiasGeluKernel<V, T><<<static_cast<unsigned>(blocks), kGeluThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

template <class T>
cudaError_t BiasGeluT(const T* x, const __nv_bfloat16* bias, __nv_bfloat16* out,
                      const BiasGeluParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.rows >= 0 && p.cols >= 1);
  QWEN_CUDA_CHECK_ARG(p.x_stride >= p.cols && p.out_stride >= p.cols);
  QWEN_CUDA_CHECK_ARG(p.kind == GeluKind::kTanh || p.kind == GeluKind::kErf);
  if (p.rows == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(x != nullptr && out != nullptr);
  GeluArgs<T> a;
  a.x = x;
  a.bias = bias;
  a.out = out;
  a.rows = p.rows;
  a.cols = p.cols;
  a.x_stride = p.x_stride;
  a.out_stride = p.out_stride;
  a.erf = p.kind == GeluKind::kErf;
  // V columns per item: 16-byte loads of x (8 bf16 or 4 fp32), 2V-byte bias loads and stores.
  constexpr int V = static_cast<int>(16 / sizeof(T));
  const bool vec = p.cols % V == 0 && p.x_stride % V == 0 && p.out_stride % V == 0 &&
                   IsAligned(x, 16) && IsAligned(out, 2 * V) &&
                   (bias == nullptr || IsAligned(bias, 2 * V));
  if (vec) return LaunchGelu<V>(a, stream);
  return LaunchGelu<1>(a, stream);
}

template <class Pos>
cudaError_t VisionRopeT(__nv_bfloat16* x, const Pos* rows, const Pos* cols,
                        const VisionRopeParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_tokens <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(p.num_heads >= 1 && p.head_dim >= 4 && p.head_dim % 4 == 0 &&
                      p.head_dim / 4 <= kVisionRopeMaxFreq);
  QWEN_CUDA_CHECK_ARG(p.num_heads * (p.head_dim / 2) <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(p.token_stride >= 0 && p.head_stride >= 0);
  QWEN_CUDA_CHECK_ARG(p.theta > 0.0);
  if (p.num_tokens == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(x != nullptr && rows != nullptr && cols != nullptr);
  VisionRopeArgs<Pos> a;
  a.x = x;
  a.rows = rows;
  a.cols = cols;
  a.num_tokens = p.num_tokens;
  a.num_heads = static_cast<int>(p.num_heads);
  a.head_dim = static_cast<int>(p.head_dim);
  a.token_stride = p.token_stride;
  a.head_stride = p.head_stride;
  const VisionRopeTable table = MakeVisionRopeTable(p.theta, a.head_dim);
  VisionRopeKernel<Pos>
      <<<static_cast<unsigned>(p.num_tokens), kVisionRopeThreads, 0, stream>>>(a, table);
  return cudaGetLastError();
}

template <class Pos>
cudaError_t BiasVisionRopeT(const float* acc, const __nv_bfloat16* bias, __nv_bfloat16* out,
                            const Pos* rows, const Pos* cols, const BiasVisionRopeParams& p,
                            cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_tokens <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(p.num_heads >= 1 && p.head_dim >= 4 && p.head_dim % 4 == 0 &&
                      p.head_dim / 4 <= kVisionRopeMaxFreq);
  QWEN_CUDA_CHECK_ARG(p.dim >= p.num_heads * p.head_dim && p.dim <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(p.acc_stride >= p.dim && p.out_stride >= p.dim);
  QWEN_CUDA_CHECK_ARG(p.theta > 0.0);
  if (p.num_tokens == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(acc != nullptr && out != nullptr && rows != nullptr && cols != nullptr);
  BiasVisionRopeArgs<Pos> a;
  a.acc = acc;
  a.bias = bias;
  a.out = out;
  a.rows = rows;
  a.cols = cols;
  a.num_tokens = p.num_tokens;
  a.num_heads = static_cast<int>(p.num_heads);
  a.head_dim = static_cast<int>(p.head_dim);
  a.dim = static_cast<int>(p.dim);
  a.acc_stride = p.acc_stride;
  a.out_stride = p.out_stride;
  const VisionRopeTable table = MakeVisionRopeTable(p.theta, a.head_dim);
  const auto blocks = static_cast<unsigned>(p.num_tokens);
  // 4 columns per item: 16-byte fp32 loads; with head_dim % 8 == 0 both halves of every head (and
  // the un-rotated tail) start on a multiple of 4.
  const bool vec = p.head_dim % 8 == 0 && p.dim % 4 == 0 && p.acc_stride % 4 == 0 &&
                   p.out_stride % 4 == 0 && IsAligned(acc, 16) && IsAligned(out, 8) &&
                   (bias == nullptr || IsAligned(bias, 8));
  if (vec) {
    BiasVisionRopeKernel<4, Pos><<<blocks, kVisionRopeThreads, 0, stream>>>(a, table);
  } else {
    BiasVisionRopeKernel<1, Pos><<<blocks, kVisionRopeThreads, 0, stream>>>(a, table);
  }
  return cudaGetLastError();
}

}  // namespace
}  // namespace detail

cudaError_t LayerNorm(const __nv_bfloat16* x, const __nv_bfloat16* w, const __nv_bfloat16* b,
                      __nv_bfloat16* y, const LayerNormParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.rows >= 0 && p.rows <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(p.dim >= 1 && p.dim <= (int64_t{1} << 20));
  QWEN_CUDA_CHECK_ARG(p.x_stride >= p.dim && p.y_stride >= p.dim);
  QWEN_CUDA_CHECK_ARG(std::isfinite(p.eps) && p.eps >= 0.0f);
  if (p.rows == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(x != nullptr && w != nullptr && y != nullptr);
  detail::LayerNormArgs a;
  a.x = x;
  a.w = w;
  a.b = b;
  a.y = y;
  a.rows = p.rows;
  a.dim = static_cast<int>(p.dim);
  a.x_stride = p.x_stride;
  a.y_stride = p.y_stride;
  a.eps = p.eps;
  const int chunks = detail::LnWarpChunks(p.dim);
  if (chunks > 0 && p.x_stride % 8 == 0 && p.y_stride % 8 == 0 &&
      detail::AllAligned(16, x, w, b, y)) {
    return detail::LayerNormWarp(a, chunks, stream);
  }
  detail::LayerNormKernel<<<static_cast<unsigned>(p.rows), detail::kLnThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

cudaError_t BiasResidualLayerNorm(const float* acc, const __nv_bfloat16* bias,
                                  __nv_bfloat16* residual, const __nv_bfloat16* w,
                                  const __nv_bfloat16* b, __nv_bfloat16* normed,
                                  const BiasResidualLayerNormParams& p, cudaStream_t stream) {
  const int chunks = detail::LnWarpChunks(p.dim);
  QWEN_CUDA_CHECK_ARG(p.rows >= 0 && p.rows <= 0x7fffffff && chunks > 0);
  QWEN_CUDA_CHECK_ARG(p.acc_stride >= p.dim && p.acc_stride % 4 == 0);
  QWEN_CUDA_CHECK_ARG(p.residual_stride >= p.dim && p.residual_stride % 8 == 0);
  QWEN_CUDA_CHECK_ARG(normed == nullptr || (p.normed_stride >= p.dim && p.normed_stride % 8 == 0));
  QWEN_CUDA_CHECK_ARG(std::isfinite(p.eps) && p.eps >= 0.0f);
  if (p.rows == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(acc != nullptr && residual != nullptr);
  QWEN_CUDA_CHECK_ARG(normed == nullptr || w != nullptr);
  QWEN_CUDA_CHECK_ARG(detail::AllAligned(16, acc, bias, residual, normed));
  QWEN_CUDA_CHECK_ARG(normed == nullptr || detail::AllAligned(16, w, b));
  detail::BiasResidualLnArgs a;
  a.acc = acc;
  a.bias = bias;
  a.residual = residual;
  a.w = w;
  a.b = b;
  a.normed = normed;
  a.rows = p.rows;
  a.dim = static_cast<int>(p.dim);
  a.acc_stride = p.acc_stride;
  a.residual_stride = p.residual_stride;
  a.normed_stride = p.normed_stride;
  a.eps = p.eps;
  return detail::BiasResidualLayerNormWarp(a, chunks, stream);
}

cudaError_t BiasGelu(const __nv_bfloat16* x, const __nv_bfloat16* bias, __nv_bfloat16* out,
                     const BiasGeluParams& p, cudaStream_t stream) {
  return detail::BiasGeluT(x, bias, out, p, stream);
}

cudaError_t BiasGelu(const float* x, const __nv_bfloat16* bias, __nv_bfloat16* out,
                     const BiasGeluParams& p, cudaStream_t stream) {
  return detail::BiasGeluT(x, bias, out, p, stream);
}

cudaError_t ApplyVisionRope(__nv_bfloat16* x, const int64_t* rows, const int64_t* cols,
                            const VisionRopeParams& p, cudaStream_t stream) {
  return detail::VisionRopeT(x, rows, cols, p, stream);
}

cudaError_t ApplyVisionRope(__nv_bfloat16* x, const int32_t* rows, const int32_t* cols,
                            const VisionRopeParams& p, cudaStream_t stream) {
  return detail::VisionRopeT(x, rows, cols, p, stream);
}

cudaError_t BiasVisionRope(const float* acc, const __nv_bfloat16* bias, __nv_bfloat16* out,
                           const int64_t* rows, const int64_t* cols, const BiasVisionRopeParams& p,
                           cudaStream_t stream) {
  return detail::BiasVisionRopeT(acc, bias, out, rows, cols, p, stream);
}

cudaError_t BiasVisionRope(const float* acc, const __nv_bfloat16* bias, __nv_bfloat16* out,
                           const int32_t* rows, const int32_t* cols, const BiasVisionRopeParams& p,
                           cudaStream_t stream) {
  return detail::BiasVisionRopeT(acc, bias, out, rows, cols, p, stream);
}

cudaError_t VisionPosEmbed(const __nv_bfloat16* table, const __nv_bfloat16* residual,
                           __nv_bfloat16* out, const VisionPosEmbedParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.side >= 1 && p.dim >= 1 && p.dim <= (int64_t{1} << 20));
  QWEN_CUDA_CHECK_ARG(p.merge_size >= 1 && p.height >= 1 && p.width >= 1 &&
                      p.height % p.merge_size == 0 && p.width % p.merge_size == 0);
  QWEN_CUDA_CHECK_ARG(p.num_frames >= 1 && p.out_stride >= p.dim);
  QWEN_CUDA_CHECK_ARG(residual == nullptr || p.residual_stride >= p.dim);
  const int64_t rows = p.num_frames * p.height * p.width;
  QWEN_CUDA_CHECK_ARG(rows <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(table != nullptr && out != nullptr);
  detail::PosEmbedArgs a;
  a.table = table;
  a.residual = residual;
  a.out = out;
  a.side = p.side;
  a.dim = static_cast<int>(p.dim);
  a.height = p.height;
  a.width = p.width;
  a.merge = p.merge_size;
  a.frames = p.num_frames;
  a.residual_stride = p.residual_stride;
  a.out_stride = p.out_stride;
  detail::PosEmbedKernel<<<static_cast<unsigned>(rows), detail::kPosEmbedThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace qwen::kernels::cuda

// Bias + bf16 conversion of the bf16-output GEMM (detail/gemm_bias.h).
#include <limits>

#include "kernels/cuda/detail/gemm_bias.h"
#include "kernels/cuda/detail/launch_util.cuh"

namespace qwen::kernels::cuda::detail {
namespace {

__global__ void __launch_bounds__(kBiasConvertThreads) BiasConvertKernel(BiasConvertArgs a) {
  BiasConvertRow(DeviceBlock{}, a, static_cast<int64_t>(blockIdx.x));
}

}  // namespace

cudaError_t BiasConvertBf16(const float* acc, const __nv_bfloat16* bias, __nv_bfloat16* y,
                            int64_t m, int64_t n, int64_t ldy, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(m >= 0 && n >= 1 && ldy >= n);
  QWEN_CUDA_CHECK_ARG(n <= std::numeric_limits<int>::max());
  QWEN_CUDA_CHECK_ARG(m <= std::numeric_limits<int>::max());  // one block per row
  if (m == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(acc != nullptr && bias != nullptr && y != nullptr);
  BiasConvertArgs a;
  a.acc = acc;
  a.bias = bias;
  a.y = y;
  a.m = m;
  a.n = n;
  a.ldy = ldy;
  BiasConvertKernel<<<static_cast<unsigned>(m), kBiasConvertThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace qwen::kernels::cuda::detail

// Bias broadcast of the bf16-output GEMM (detail/gemm_bias.h).
#include <algorithm>

#include "kernels/cuda/detail/gemm_bias.h"
#include "kernels/cuda/detail/launch_util.cuh"

namespace qwen::kernels::cuda::detail {
namespace {

constexpr int kBiasThreads = 256;

// Grid-stride over the m x n elements; consecutive threads take consecutive columns of a row.
__global__ void __launch_bounds__(kBiasThreads)
    BroadcastBiasRowsKernel(const __nv_bfloat16* __restrict__ bias, __nv_bfloat16* __restrict__ y,
                            int64_t m, int64_t n, int64_t ldy) {
  const int64_t total = m * n;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += step) {
    const int64_t i = e / n, j = e - i * n;
    y[i * ldy + j] = bias[j];
  }
}

}  // namespace

cudaError_t BroadcastBiasRows(const __nv_bfloat16* bias, __nv_bfloat16* y, int64_t m, int64_t n,
                              int64_t ldy, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(m >= 0 && n >= 1 && ldy >= n);
  if (m == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(bias != nullptr && y != nullptr);
  const int64_t grid = std::min<int64_t>(CeilDiv<int64_t>(m * n, kBiasThreads), int64_t{1} << 16);
  BroadcastBiasRowsKernel<<<static_cast<unsigned>(grid), kBiasThreads, 0, stream>>>(bias, y, m, n,
                                                                                    ldy);
  return cudaGetLastError();
}

}  // namespace qwen::kernels::cuda::detail

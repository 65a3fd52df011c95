// Bias broadcast of the bf16-output GEMM (kernels/cuda/gemm.cc, which is host C++): the bias rows
// that the matmul then adds as C with beta = 1, so that acc + bias is rounded to bf16 once.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen::kernels::cuda::detail {

// y[i * ldy + j] = bias[j] for i < m, j < n (exact bf16 copies; nothing else of y is touched).
cudaError_t BroadcastBiasRows(const __nv_bfloat16* bias, __nv_bfloat16* y, int64_t m, int64_t n,
                              int64_t ldy, cudaStream_t stream);

}  // namespace qwen::kernels::cuda::detail

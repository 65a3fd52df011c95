// The GEMM of very few rows (decode steps of 1-2 sequences; at 4 rows cuBLASLt measured faster on
// an H200): y [m, n] = x [m, k] · Wᵀ with W [n, k] bf16, fp32 accumulation, bf16 or fp32 output.
// With m this small the product is a weight stream (2 bytes per 2m flops): cuBLASLt's kernels read
// W at ~2.8 TB/s on an H200 (kernels_cuda_bench), below what HBM3e gives a plain streaming read.
// This kernel streams each weight row once with 16-byte non-allocating loads, several rows per warp
// in flight, and keeps x in L1 (every warp reads the same few rows of x).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen::kernels::cuda::detail {

inline constexpr int64_t kSmallMMaxRows = 2;

// Whether SmallMGemm takes the problem: 1 <= m <= kSmallMMaxRows, k and the strides multiples of 8
// elements, x and w 16-byte aligned (16-byte loads), y aligned to its element.
bool SmallMGemmApplies(const void* x, const void* w, int64_t m, int64_t k, int64_t ldx);

// y[i * ldy + j] = sum_l x[i * ldx + l] * w[j * k + l] for i < m, j < n, summed in fp32 (each
// lane over a strided slice of k, then a warp tree), rounded once when y is bf16. Requires
// SmallMGemmApplies. cudaErrorInvalidValue for bad arguments.
cudaError_t SmallMGemm(const __nv_bfloat16* x, int64_t ldx, const __nv_bfloat16* w,
                       __nv_bfloat16* y, int64_t ldy, int64_t m, int64_t n, int64_t k,
                       cudaStream_t stream);
cudaError_t SmallMGemm(const __nv_bfloat16* x, int64_t ldx, const __nv_bfloat16* w, float* y,
                       int64_t ldy, int64_t m, int64_t n, int64_t k, cudaStream_t stream);

}  // namespace qwen::kernels::cuda::detail

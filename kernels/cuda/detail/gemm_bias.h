// Bias + bf16 conversion of the bf16-output GEMM with a bias (kernels/cuda/gemm.cc, which is host
// C++): the matmul writes its fp32 result into the CublasLt context's scratch (no bias, nothing
// rounded), then this block program adds the bf16 bias in fp32 and rounds once to bf16 into y.
// Written against detail/block.h so that the CPU emulation test
// (tests/kernels/cuda/emulation_attention_vision_sampling_test.cc) runs this exact code.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/detail/block.h"

namespace qwen::kernels::cuda::detail {

inline constexpr int kBiasConvertThreads = 256;

struct BiasConvertArgs {
  const float* acc = nullptr;            // fp32 [m, n], contiguous (rows n apart)
  const __nv_bfloat16* bias = nullptr;   // bf16 [n]
  __nv_bfloat16* y = nullptr;            // bf16 [m, n], rows ldy apart
  int64_t m = 0, n = 0, ldy = 0;
};

// One element: acc + bias in fp32 (both exact inputs), one round-to-nearest-even to bf16. The
// fused vision kernels (vision_core.h, vision_norm.cuh) round through this too, so that they
// match Gemm with a bias bit for bit.
QWEN_HD_INLINE __nv_bfloat16 BiasConvertElem(float acc, float bias) {
  return __float2bfloat16(acc + bias);
}
QWEN_HD_INLINE __nv_bfloat16 BiasConvertElem(float acc, __nv_bfloat16 bias) {
  return BiasConvertElem(acc, __bfloat162float(bias));
}

// One block per row `row`: items are the n columns (independent; one phase, no Sync).
template <class Block>
QWEN_HD_INLINE void BiasConvertRow(const Block& blk, const BiasConvertArgs& a, int64_t row) {
  const float* acc = a.acc + row * a.n;
  __nv_bfloat16* y = a.y + row * a.ldy;
  blk.For(static_cast<int>(a.n), [&](int j) { y[j] = BiasConvertElem(acc[j], a.bias[j]); });
}

// y[i * ldy + j] = bf16(acc[i * n + j] + bias[j]) for i < m, j < n; nothing else of y is touched.
// acc and y must not overlap. cudaErrorInvalidValue for bad arguments (n must fit an int).
cudaError_t BiasConvertBf16(const float* acc, const __nv_bfloat16* bias, __nv_bfloat16* y,
                            int64_t m, int64_t n, int64_t ldy, cudaStream_t stream);

}  // namespace qwen::kernels::cuda::detail

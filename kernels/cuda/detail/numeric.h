// Scalar helpers shared by the CUDA kernels and their CPU emulation (host and device).
#pragma once

#include <cuda_bf16.h>

#include <cmath>

#include "kernels/cuda/detail/block.h"

namespace qwen::kernels::cuda::detail {

QWEN_HD_INLINE float ToFloat(float x) { return x; }
QWEN_HD_INLINE float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }

// silu(x) = x * sigmoid(x), written as the CPU reference does: x / (1 + e^-x) (-0 for x << 0,
// never NaN). Uses the accurate expf (the CUDA code is not built with --use_fast_math).
QWEN_HD_INLINE float Silu(float x) { return x / (1.0f + expf(-x)); }
QWEN_HD_INLINE float Sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

}  // namespace qwen::kernels::cuda::detail

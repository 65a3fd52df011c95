// The Hopper (sm_90a, wgmma) segment attention kernel of kernels/cuda/vision_attention_sm90.cu,
// for kernels/cuda/vision_attention.cu's dispatch.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen::kernels::cuda::detail {

struct FlashArgs;

// Bidirectional segment attention over `a` (detail/flash_attention.cuh; group 1, no paging) with
// head_dim a multiple of 8 in [8, 72]. Only for devices of compute capability 9.0 (the kernel
// exists only as sm_90a machine code): the caller checks the device. cudaErrorInvalidValue for
// other shapes.
cudaError_t LaunchSegmentAttentionWgmma(const FlashArgs& a, int64_t num_tokens,
                                        cudaStream_t stream);

}  // namespace qwen::kernels::cuda::detail

// What every piece of one encoder forward reads: the stream and cuBLASLt context, the config, the
// workspace, the batch size and the device views of the batch's packed metadata
// (batch_metadata.h). Internal to the CUDA encoder (not part of its public API).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/config.h"
#include "kernels/cuda/gemm.h"
#include "vision_service/model/cuda/workspace.h"

namespace qwen::vision::cuda {

// nn.LayerNorm(eps=1e-6) in the blocks and the merger (not PyTorch's default 1e-5).
inline constexpr float kVisionLayerNormEps = 1e-6f;

struct VisionStep {
  cudaStream_t stream = nullptr;
  kernels::cuda::CublasLt* cublas = nullptr;
  const core::VisionConfig* config = nullptr;
  const VisionWorkspace* ws = nullptr;
  int64_t num_patches = 0;              // N: rows of ws->hidden this forward
  int64_t num_segments = 0;             // attention segments (frames of all items)
  const int32_t* cu_seqlens = nullptr;  // device i32 [num_segments + 1]
  const int32_t* rows = nullptr;        // device i32 [N]: un-merged patch row of each token
  const int32_t* cols = nullptr;        // device i32 [N]: un-merged patch column
};

}  // namespace qwen::vision::cuda

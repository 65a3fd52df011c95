// Kernels and per-config launchers of the causal conv1d (kernels/cuda/conv1d.h). Each config is
// instantiated in its own translation unit: conv1d.cu (default), sm121/conv1d_gb10.cu (GB10).
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/detail/conv1d_core.h"
#include "kernels/cuda/detail/launch_util.cuh"

namespace qwen::kernels::cuda::detail {

template <class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads) CausalConv1dSiluVarlenKernel(ConvArgs a) {
  ConvPrefillBlock<Cfg>(DeviceBlock{}, blockIdx.x, blockIdx.y, a);
}

template <class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads) CausalConv1dStateUpdateKernel(ConvArgs a) {
  ConvStateUpdateBlock<Cfg>(DeviceBlock{}, blockIdx.x, blockIdx.y, a);
}

template <class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads) CausalConv1dSiluUpdateKernel(ConvArgs a) {
  ConvUpdateBlock<Cfg>(DeviceBlock{}, blockIdx.x, blockIdx.y, a);
}

// Arguments are validated by the public launchers.
template <class Cfg>
cudaError_t LaunchConvVarlen(const ConvArgs& a, cudaStream_t stream) {
  // Token tiles run along grid.y (<= 65535 tiles: over a million tokens per launch).
  QWEN_CUDA_CHECK_ARG(CeilDiv<int64_t>(a.num_tokens, Cfg::kTokens) <= 65535);
  if (a.num_tokens > 0) {
    CausalConv1dSiluVarlenKernel<Cfg>
        <<<ToDim3(ConvPrefillGrid<Cfg>(a)), Cfg::kThreads, 0, stream>>>(a);
    QWEN_CUDA_TRY(cudaGetLastError());
  }
  if (a.kernel > 1) {
    CausalConv1dStateUpdateKernel<Cfg>
        <<<ToDim3(ConvPerSeqGrid<Cfg>(a)), Cfg::kThreads, 0, stream>>>(a);
    QWEN_CUDA_TRY(cudaGetLastError());
  }
  return cudaSuccess;
}

template <class Cfg>
cudaError_t LaunchConvUpdate(const ConvArgs& a, cudaStream_t stream) {
  CausalConv1dSiluUpdateKernel<Cfg>
      <<<ToDim3(ConvPerSeqGrid<Cfg>(a)), Cfg::kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace qwen::kernels::cuda::detail

// Kernels and per-config launchers of the gated delta rule (kernels/cuda/gated_delta_rule.h).
// Each config is instantiated in its own translation unit: gated_delta_rule.cu (default),
// sm121/gated_delta_rule_gb10.cu (GB10).
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/detail/gated_delta_rule_core.h"
#include "kernels/cuda/detail/launch_util.cuh"

namespace qwen::kernels::cuda::detail {

template <class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads) GatedDeltaRuleChunkedKernel(GdrArgs a) {
  extern __shared__ __align__(16) unsigned char gdr_chunk_smem[];
  GdrChunkBlock<Cfg>(DeviceBlock{}, blockIdx.x, blockIdx.y, blockIdx.z, a,
                     reinterpret_cast<float*>(gdr_chunk_smem));
}

template <class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads) GatedDeltaRuleRecurrentDecodeKernel(GdrArgs a) {
  extern __shared__ __align__(16) unsigned char gdr_decode_smem[];
  GdrDecodeBlock<Cfg>(DeviceBlock{}, blockIdx.x, blockIdx.y, blockIdx.z, a,
                      reinterpret_cast<float*>(gdr_decode_smem));
}

template <class Cfg>
int64_t GdrChunkSharedBytes(int dk) {
  return static_cast<int64_t>(GdrChunkLayout<Cfg>(dk).total) * 4;
}

// Arguments are validated by the public launchers.
template <class Cfg>
cudaError_t LaunchGdrChunked(const GdrArgs& a, cudaStream_t stream) {
  const int64_t smem = GdrChunkSharedBytes<Cfg>(a.head_dim_k);
  QWEN_CUDA_TRY(
      PrepareDynamicSmem(reinterpret_cast<const void*>(&GatedDeltaRuleChunkedKernel<Cfg>), smem));
  GatedDeltaRuleChunkedKernel<Cfg>
      <<<ToDim3(GdrChunkGrid<Cfg>(a)), Cfg::kThreads, static_cast<size_t>(smem), stream>>>(a);
  return cudaGetLastError();
}

template <class Cfg>
cudaError_t LaunchGdrDecode(const GdrArgs& a, cudaStream_t stream) {
  const int64_t smem = static_cast<int64_t>(GdrDecodeSmemFloats<Cfg>(a.head_dim_k)) * 4;
  QWEN_CUDA_TRY(PrepareDynamicSmem(
      reinterpret_cast<const void*>(&GatedDeltaRuleRecurrentDecodeKernel<Cfg>), smem));
  GatedDeltaRuleRecurrentDecodeKernel<Cfg>
      <<<ToDim3(GdrDecodeGrid<Cfg>(a)), Cfg::kThreads, static_cast<size_t>(smem), stream>>>(a);
  return cudaGetLastError();
}

}  // namespace qwen::kernels::cuda::detail

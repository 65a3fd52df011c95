// Kernels and per-config launchers of the gated delta rule (kernels/cuda/gated_delta_rule.h).
// Each config is instantiated in its own translation unit: gated_delta_rule.cu (default),
// sm121/gated_delta_rule_gb10.cu (GB10).
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/detail/gated_delta_rule_core.h"
#include "kernels/cuda/detail/launch_util.cuh"

namespace qwen::kernels::cuda::detail {

template <class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads) GatedDeltaRuleChunkPrepKernel(GdrArgs a) {
  extern __shared__ __align__(16) unsigned char gdr_prep_smem[];
  GdrPrepBlock<Cfg>(DeviceBlock{}, blockIdx.x, blockIdx.y, a,
                    reinterpret_cast<float*>(gdr_prep_smem));
}

template <class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads) GatedDeltaRuleChunkScanKernel(GdrArgs a) {
  extern __shared__ __align__(16) unsigned char gdr_scan_smem[];
  GdrScanBlock<Cfg>(DeviceBlock{}, blockIdx.x, blockIdx.y, blockIdx.z, a,
                    reinterpret_cast<float*>(gdr_scan_smem));
}

template <class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads) GatedDeltaRuleRecurrentDecodeKernel(GdrArgs a) {
  extern __shared__ __align__(16) unsigned char gdr_decode_smem[];
  GdrDecodeBlock<Cfg>(DeviceBlock{}, blockIdx.x, blockIdx.y, blockIdx.z, a,
                      reinterpret_cast<float*>(gdr_decode_smem));
}

// Dynamic shared memory of the two chunked kernels (the launch needs both to fit).
template <class Cfg>
int64_t GdrChunkSharedBytes(int dk) {
  const int64_t prep = static_cast<int64_t>(GdrPrepLayout<Cfg>(dk).total) * 4;
  const int64_t scan = static_cast<int64_t>(GdrScanLayout<Cfg>(dk, GdrScanStages<Cfg>(dk)).total) * 4;
  return prep > scan ? prep : scan;
}

// Arguments are validated by the public launcher (which also picks the access widths). The prep
// writes the workspace rows of every chunk, the scan (next in the stream) reads them.
template <class Cfg>
cudaError_t LaunchGdrChunked(const GdrArgs& args, cudaStream_t stream) {
  GdrArgs a = args;
  a.scan_stages = GdrScanStages<Cfg>(a.head_dim_k);
  if (a.num_tokens > 0) {
    const int64_t smem = static_cast<int64_t>(GdrPrepLayout<Cfg>(a.head_dim_k).total) * 4;
    QWEN_CUDA_TRY(PrepareDynamicSmem(
        reinterpret_cast<const void*>(&GatedDeltaRuleChunkPrepKernel<Cfg>), smem));
    GatedDeltaRuleChunkPrepKernel<Cfg>
        <<<ToDim3(GdrPrepGrid<Cfg>(a)), Cfg::kThreads, static_cast<size_t>(smem), stream>>>(a);
    QWEN_CUDA_TRY(cudaGetLastError());
  }
  const int64_t smem =
      static_cast<int64_t>(GdrScanLayout<Cfg>(a.head_dim_k, a.scan_stages).total) * 4;
  QWEN_CUDA_TRY(PrepareDynamicSmem(
      reinterpret_cast<const void*>(&GatedDeltaRuleChunkScanKernel<Cfg>), smem));
  GatedDeltaRuleChunkScanKernel<Cfg>
      <<<ToDim3(GdrScanGrid<Cfg>(a)), Cfg::kThreads, static_cast<size_t>(smem), stream>>>(a);
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

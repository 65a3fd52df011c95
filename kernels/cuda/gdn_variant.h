// Kernel variants of the Gated DeltaNet cores (causal conv1d, chunked and recurrent delta rule):
// the default path (Hopper and every other GPU) and a GB10 (SM 12.1) path sized for that chip
// (48 SMs, ~99 KB shared memory per block, 273 GB/s LPDDR5x: chunk 32, narrower value tiles,
// smaller blocks). Both variants are compiled into every build and compute the same function
// (the same formulas, only tiling and chunk size differ), so either can run on any GPU; the
// tests force the GB10 one on Hopper and compare it with the default.
#pragma once

#include <cuda_runtime_api.h>

namespace qwen::kernels::cuda {

enum class GdnVariant : int {
  kAuto = 0,     // resolve from the device's compute capability (SelectGdnVariant)
  kDefault = 1,  // Hopper and everything that is not GB10
  kGb10 = 2,     // SM 12.1
};

// "auto", "default" or "gb10" ("invalid" for anything else).
const char* GdnVariantName(GdnVariant variant);

// The dispatcher's rule: compute capability 12.1 -> kGb10, anything else -> kDefault.
GdnVariant GdnVariantForComputeCapability(int major, int minor);

// Resolves `requested` for `device`: kAuto becomes the variant for that device's compute
// capability; a forced kDefault / kGb10 is returned unchanged (so GB10 can be tested on H100).
// Call once at model load and pass the result to the launchers; GdnVariantName reports it.
// Returns cudaErrorInvalidValue for an unknown enum value, or the error of the device query.
cudaError_t SelectGdnVariant(int device, GdnVariant requested, GdnVariant* selected);

}  // namespace qwen::kernels::cuda

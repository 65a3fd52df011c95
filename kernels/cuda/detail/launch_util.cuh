// Launcher helpers of the CUDA kernels (CUDA translation units only).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/detail/block.h"
#include "kernels/cuda/gdn_variant.h"

// Returns the cudaError_t of `expr` from the enclosing function when it is not cudaSuccess.
#define QWEN_CUDA_TRY(expr)                                   \
  do {                                                        \
    const cudaError_t qwen_cuda_err_ = (expr);                \
    if (qwen_cuda_err_ != cudaSuccess) return qwen_cuda_err_; \
  } while (0)

// Returns cudaErrorInvalidValue from the enclosing function unless `cond` holds.
#define QWEN_CUDA_CHECK_ARG(cond)              \
  do {                                         \
    if (!(cond)) return cudaErrorInvalidValue; \
  } while (0)

// Dispatch over the GDN variants: binds `Cfg` to the variant's config type and runs the body;
// anything but kDefault / kGb10 (after SelectGdnVariant) is rejected. Supported set:
//   kDefault -> DefaultCfg, kGb10 -> Gb10Cfg.
#define QWEN_DISPATCH_GDN_VARIANT(variant, DefaultCfg, Gb10Cfg, ...) \
  [&]() -> cudaError_t {                                             \
    switch (variant) {                                               \
      case ::qwen::kernels::cuda::GdnVariant::kDefault: {            \
        using Cfg = DefaultCfg;                                      \
        return __VA_ARGS__();                                        \
      }                                                              \
      case ::qwen::kernels::cuda::GdnVariant::kGb10: {               \
        using Cfg = Gb10Cfg;                                         \
        return __VA_ARGS__();                                        \
      }                                                              \
      default:                                                       \
        return cudaErrorInvalidValue;                                \
    }                                                                \
  }()

namespace qwen::kernels::cuda::detail {

inline dim3 ToDim3(const Grid3& g) {
  return dim3(static_cast<unsigned>(g.x), static_cast<unsigned>(g.y), static_cast<unsigned>(g.z));
}

// kAuto -> the current device's variant; forced variants pass through.
inline cudaError_t ResolveGdnVariant(GdnVariant requested, GdnVariant* resolved) {
  int device = 0;
  if (requested == GdnVariant::kAuto) QWEN_CUDA_TRY(cudaGetDevice(&device));
  return SelectGdnVariant(device, requested, resolved);
}

// Raises `kernel`'s dynamic shared-memory limit to `bytes` when above the 48 KB default, after
// checking the current device allows it (cudaErrorNotSupported otherwise).
inline cudaError_t PrepareDynamicSmem(const void* kernel, int64_t bytes) {
  if (bytes <= 48 * 1024) return cudaSuccess;
  int device = 0, optin = 0;
  QWEN_CUDA_TRY(cudaGetDevice(&device));
  QWEN_CUDA_TRY(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (bytes > optin) return cudaErrorNotSupported;
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(bytes));
}

// True when p is aligned to `bytes`.
inline bool IsAligned(const void* p, uintptr_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

}  // namespace qwen::kernels::cuda::detail

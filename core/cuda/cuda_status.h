// absl::Status for CUDA runtime errors (STYLE.md 6.2.11): the kernels return cudaError_t, the model
// turns them into Status values at the call site with a note of what was being done.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "absl/status/status.h"
#include "core/status.h"

namespace qwen::core::cuda {

// OK for cudaSuccess; otherwise "<what>: <cuda error name>: <description>" with a code chosen by
// the error: ResourceExhausted for allocation failures, FailedPrecondition for a missing or
// unusable device / unsupported configuration, Internal for the rest (bad launch arguments reach
// a launcher only through a bug: the model validates its inputs first).
absl::Status CudaStatus(cudaError_t err, const std::string& what);

}  // namespace qwen::core::cuda

// Evaluates `expr` (a cudaError_t); returns CudaStatus(expr, what) from the enclosing function
// when it is not cudaSuccess.
#define QWEN_CUDA_RETURN_IF_ERROR(expr, what) \
  QWEN_RETURN_IF_ERROR(::qwen::core::cuda::CudaStatus((expr), (what)))

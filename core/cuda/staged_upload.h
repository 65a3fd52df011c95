// Host -> device copies of floating tensors with a dtype change on the way (F32 / BF16 / F16 in,
// BF16 or F32 out), through one page-locked staging buffer: how model weights reach the GPU from
// a memory-mapped checkpoint without a second full host copy. Load-time only (it waits for each
// chunk's copy before reusing the staging buffer).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/cuda/device_memory.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace qwen::core::cuda {

// Converts n elements of `src` (F32, BF16 or F16) to `to` (F32, BF16 or F16) into `dst`; a
// same-dtype conversion is a plain copy. `scratch` holds the fp32 intermediate of the other cases.
void ConvertFloating(const void* src, DType from, void* dst, DType to, size_t n,
                     std::vector<float>& scratch);

class StagedUpload {
 public:
  // Allocates the staging buffer; copies are queued on `stream`.
  static absl::StatusOr<StagedUpload> Create(cudaStream_t stream,
                                             size_t staging_bytes = size_t{16} << 20);

  // Writes `src` (a CPU tensor of a floating dtype, e.g. a zero-copy checkpoint view) to `dst`
  // (device memory for src.numel() elements of `to`, BF16 or F32), converted element by element.
  // `what` names the tensor in errors. The last chunk may still be in flight on return.
  absl::Status Copy(const Tensor& src, DType to, void* dst, const std::string& what);
  // Waits until every queued copy is done.
  absl::Status Finish();

 private:
  StagedUpload() = default;
  cudaStream_t stream_ = nullptr;
  PinnedMemory staging_;
  std::vector<float> scratch_;
};

}  // namespace qwen::core::cuda

#include "core/cuda/device_memory.h"

#include <cuda_runtime_api.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/cuda/cuda_status.h"

namespace qwen::core::cuda {

std::string FormatMiB(size_t bytes) {
  return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

absl::StatusOr<DeviceMemory> DeviceMemory::Allocate(size_t bytes, const std::string& what) {
  DeviceMemory m;
  if (bytes == 0) return m;
  const cudaError_t err = cudaMalloc(&m.ptr_, bytes);
  if (err != cudaSuccess) {
    m.ptr_ = nullptr;
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    cudaGetLastError();
    const std::string msg = absl::StrCat(what, ": cannot allocate ", FormatMiB(bytes),
                                         " on the GPU (", FormatMiB(free_bytes), " free of ",
                                         FormatMiB(total_bytes), "): ", cudaGetErrorString(err));
    return err == cudaErrorMemoryAllocation ? absl::ResourceExhaustedError(msg)
                                            : CudaStatus(err, msg);
  }
  m.bytes_ = bytes;
  return m;
}

DeviceMemory::~DeviceMemory() {
  if (ptr_ != nullptr) cudaFree(ptr_);
}

DeviceMemory::DeviceMemory(DeviceMemory&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceMemory& DeviceMemory::operator=(DeviceMemory&& o) noexcept {
  if (this != &o) {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

absl::StatusOr<PinnedMemory> PinnedMemory::Allocate(size_t bytes, const std::string& what) {
  PinnedMemory m;
  if (bytes == 0) return m;
  const cudaError_t err = cudaMallocHost(&m.ptr_, bytes);
  if (err != cudaSuccess) {
    m.ptr_ = nullptr;
    const std::string msg =
        absl::StrCat(what, ": cannot allocate ", FormatMiB(bytes), " of page-locked host memory");
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      return absl::ResourceExhaustedError(msg);
    }
    return CudaStatus(err, msg);
  }
  m.bytes_ = bytes;
  return m;
}

PinnedMemory::~PinnedMemory() {
  if (ptr_ != nullptr) cudaFreeHost(ptr_);
}

PinnedMemory::PinnedMemory(PinnedMemory&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

PinnedMemory& PinnedMemory::operator=(PinnedMemory&& o) noexcept {
  if (this != &o) {
    if (ptr_ != nullptr) cudaFreeHost(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

}  // namespace qwen::core::cuda

// Owning device and pinned host allocations (RAII, move-only). Allocation happens only at model
// load; the forward pass carves its buffers out of these (no cudaMalloc in the hot path).
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace qwen::core::cuda {

// Rounds `bytes` up to the 256-byte alignment every sub-buffer gets (cudaMalloc's own alignment,
// and what cuBLASLt and the 16-byte vector paths of the kernels prefer).
inline constexpr size_t kDeviceAlignment = 256;
inline size_t AlignBytes(size_t bytes) {
  return (bytes + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment;
}

// cudaMalloc'ed memory on the current device, freed on destruction.
class DeviceMemory {
 public:
  DeviceMemory() = default;
  // ResourceExhausted "<what>: cannot allocate N MiB on the GPU (F MiB free of T MiB)" when the
  // allocation fails. Zero bytes gives an empty (null) allocation.
  static absl::StatusOr<DeviceMemory> Allocate(size_t bytes, const std::string& what);
  ~DeviceMemory();
  DeviceMemory(DeviceMemory&& o) noexcept;
  DeviceMemory& operator=(DeviceMemory&& o) noexcept;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  // The byte `offset` into the allocation as T* (offsets come from a layout computed up front).
  template <class T>
  T* at(size_t offset) const {
    return reinterpret_cast<T*>(static_cast<char*>(ptr_) + offset);
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// cudaMallocHost'ed (page-locked) host memory, for asynchronous uploads.
class PinnedMemory {
 public:
  PinnedMemory() = default;
  static absl::StatusOr<PinnedMemory> Allocate(size_t bytes, const std::string& what);
  ~PinnedMemory();
  PinnedMemory(PinnedMemory&& o) noexcept;
  PinnedMemory& operator=(PinnedMemory&& o) noexcept;
  PinnedMemory(const PinnedMemory&) = delete;
  PinnedMemory& operator=(const PinnedMemory&) = delete;

  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// "12.3 MiB"
std::string FormatMiB(size_t bytes);

}  // namespace qwen::core::cuda

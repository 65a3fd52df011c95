// Owning device and pinned host allocations (RAII, move-only). Allocation happens only at model
// load; the forward pass carves its buffers out of these (no cudaMalloc in the hot path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qwen::core::cuda {

// Rounds `bytes` up to the 256-byte alignment every sub-buffer gets (cudaMalloc's own alignment,
// and what cuBLASLt and the 16-byte vector paths of the kernels prefer).
inline constexpr size_t kDeviceAlignment = 256;
inline size_t AlignBytes(size_t bytes) {
  return (bytes + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment;
}

// Hands out AlignBytes-aligned byte ranges of one allocation from a running offset: the layout
// of a workspace is computed once with base == nullptr (sizes only), then again over the real
// allocation (pointers).
class Carver {
 public:
  explicit Carver(char* base, size_t start = 0) : base_(base), at_(start) {}
  template <class T>
  T* Take(int64_t count) {
    const size_t off = at_;
    at_ += AlignBytes(static_cast<size_t>(count) * sizeof(T));
    return base_ == nullptr ? nullptr : reinterpret_cast<T*>(base_ + off);
  }
  size_t at() const { return at_; }

 private:
  char* base_;
  size_t at_;
};

// Gives every entry (anything with `size_t offset` and `size_t bytes() const`) its aligned offset
// in one allocation, in order; returns the allocation's size.
template <class Entry>
size_t AssignAlignedOffsets(std::vector<Entry>& entries) {
  size_t offset = 0;
  for (Entry& e : entries) {
    e.offset = offset;
    offset += AlignBytes(e.bytes());
  }
  return offset;
}

// The size of the allocation AssignAlignedOffsets lays `entries` out in.
template <class Entry>
size_t AlignedTotalBytes(const std::vector<Entry>& entries) {
  size_t total = 0;
  for (const Entry& e : entries) total += AlignBytes(e.bytes());
  return total;
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

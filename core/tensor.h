// Tensor: a typed, shaped, dense row-major block of memory on one device. Either owns its buffer or
// is a view that keeps its backing store (an mmap'ed file, a parent tensor) alive through a shared
// handle. Copying a Tensor is shallow (both copies see the same data); Clone() copies the data.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "core/logging.h"

namespace qwen::core {

enum class Device : uint8_t { kCpu, kCuda };

using Shape = std::vector<int64_t>;

// "[2, 3, 4]"
std::string ShapeToString(const Shape& shape);
int64_t NumElements(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;

  // A new zero-filled CPU tensor.
  static Tensor Zeros(Shape shape, DType dtype);
  // A view of `data` (not copied). `keep_alive` is held as long as any copy of the view lives.
  static Tensor View(void* data, Shape shape, DType dtype, Device device = Device::kCpu,
                     std::shared_ptr<const void> keep_alive = nullptr);
  // A new CPU tensor holding a copy of `values`.
  template <typename T>
  static Tensor FromVector(const std::vector<T>& values, Shape shape) {
    QWEN_CHECK(NumElements(shape) == static_cast<int64_t>(values.size()))
        << "FromVector: " << values.size() << " values for shape " << ShapeToString(shape);
    Tensor t = Zeros(std::move(shape), DTypeOf<T>());
    if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
    return t;
  }

  bool empty() const { return data_ == nullptr && numel() == 0; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  // Size of dimension `i`; negative `i` counts from the end.
  int64_t dim(int i) const;
  int64_t numel() const { return NumElements(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * DTypeSize(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

  void* raw_data() { return data_; }
  const void* raw_data() const { return data_; }
  // Typed access; the element type must match dtype() (checked: a mismatch is a bug).
  template <typename T>
  T* data() {
    QWEN_CHECK(DTypeOf<T>() == dtype_) << "tensor is " << DTypeName(dtype_) << ", accessed as "
                                       << DTypeName(DTypeOf<T>());
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    return const_cast<Tensor*>(this)->data<T>();
  }

  // Same data, new shape with the same element count (checked).
  Tensor Reshaped(Shape shape) const;
  // Rows [begin, end) of the first dimension, as a view.
  Tensor Slice(int64_t begin, int64_t end) const;
  // Deep copy into a new owning CPU tensor.
  Tensor Clone() const;
  // A new owning CPU fp32 copy; the source must be a CPU tensor of any dtype.
  Tensor ToF32() const;
  // A new owning CPU copy converted to `dtype` (floating targets from fp32/bf16/f16 sources, or
  // integer to integer).
  absl::StatusOr<Tensor> To(DType dtype) const;

 private:
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::kF32;
  Device device_ = Device::kCpu;
  std::shared_ptr<const void> storage_;
};

}  // namespace qwen::core

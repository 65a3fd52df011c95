#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace qwen::core {

std::string ShapeToString(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor Tensor::Zeros(Shape shape, DType dtype) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  size_t bytes = t.nbytes();
  // 64-byte alignment for vectorised loops; at least one byte so data() is never null.
  size_t alloc = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, alloc);
  QWEN_CHECK(p != nullptr) << "out of host memory allocating " << alloc << " bytes";
  std::memset(p, 0, alloc);
  t.data_ = p;
  t.storage_ = std::shared_ptr<const void>(p, [](const void* q) { std::free(const_cast<void*>(q)); });
  return t;
}

Tensor Tensor::View(void* data, Shape shape, DType dtype, Device device,
                    std::shared_ptr<const void> keep_alive) {
  Tensor t;
  t.data_ = data;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::move(keep_alive);
  return t;
}

int64_t Tensor::dim(int i) const {
  int r = rank();
  if (i < 0) i += r;
  QWEN_CHECK(i >= 0 && i < r) << "dim " << i << " of a rank-" << r << " tensor";
  return shape_[i];
}

Tensor Tensor::Reshaped(Shape shape) const {
  QWEN_CHECK(NumElements(shape) == numel())
      << "cannot reshape " << ShapeToString(shape_) << " to " << ShapeToString(shape);
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Slice(int64_t begin, int64_t end) const {
  QWEN_CHECK(rank() >= 1 && 0 <= begin && begin <= end && end <= shape_[0])
      << "slice [" << begin << ", " << end << ") of " << ShapeToString(shape_);
  int64_t row = shape_[0] == 0 ? 0 : numel() / shape_[0];
  Tensor t = *this;
  t.shape_[0] = end - begin;
  t.data_ = static_cast<char*>(data_) + begin * row * static_cast<int64_t>(DTypeSize(dtype_));
  return t;
}

Tensor Tensor::Clone() const {
  QWEN_CHECK(device_ == Device::kCpu) << "Clone of a device tensor";
  Tensor t = Zeros(shape_, dtype_);
  if (nbytes() > 0) std::memcpy(t.data_, data_, nbytes());
  return t;
}

Tensor Tensor::ToF32() const {
  QWEN_CHECK(device_ == Device::kCpu) << "ToF32 of a device tensor";
  Tensor t = Zeros(shape_, DType::kF32);
  ConvertToF32(data_, dtype_, static_cast<float*>(t.data_), static_cast<size_t>(numel()));
  return t;
}

absl::StatusOr<Tensor> Tensor::To(DType dtype) const {
  if (device_ != Device::kCpu) return absl::InvalidArgumentError("To() needs a CPU tensor");
  if (dtype == dtype_) return Clone();
  if (IsFloating(dtype) && IsFloating(dtype_)) {
    Tensor f = ToF32();
    Tensor t = Zeros(shape_, dtype);
    ConvertFromF32(f.data<float>(), t.data_, dtype, static_cast<size_t>(numel()));
    return t;
  }
  auto is_int = [](DType d) { return d == DType::kI32 || d == DType::kI64; };
  if (is_int(dtype) && is_int(dtype_)) {
    Tensor t = Zeros(shape_, dtype);
    for (int64_t i = 0; i < numel(); ++i) {
      int64_t v = dtype_ == DType::kI32 ? static_cast<const int32_t*>(data_)[i]
                                        : static_cast<const int64_t*>(data_)[i];
      if (dtype == DType::kI32) {
        static_cast<int32_t*>(t.data_)[i] = static_cast<int32_t>(v);
      } else {
        static_cast<int64_t*>(t.data_)[i] = v;
      }
    }
    return t;
  }
  return absl::InvalidArgumentError(absl::StrCat("cannot convert ", DTypeName(dtype_), " to ",
                                                 DTypeName(dtype)));
}

}  // namespace qwen::core

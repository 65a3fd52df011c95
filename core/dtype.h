// Element types and conversions. bf16/f16 are stored as raw 16-bit patterns; arithmetic is done in
// fp32 after conversion (CPU) or with native types (CUDA).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "absl/status/statusor.h"

namespace qwen::core {

enum class DType : uint8_t { kF32, kBF16, kF16, kI32, kI64, kU8 };

struct BFloat16 {
  uint16_t bits;
};
struct Float16 {
  uint16_t bits;
};

// Bytes per element.
size_t DTypeSize(DType dtype);
// Safetensors spelling: "F32", "BF16", "F16", "I32", "I64", "U8".
const char* DTypeName(DType dtype);
// Parses a safetensors dtype string; unknown or unsupported names are InvalidArgument.
absl::StatusOr<DType> ParseDType(std::string_view name);
bool IsFloating(DType dtype);

template <typename T>
constexpr DType DTypeOf();
template <>
constexpr DType DTypeOf<float>() { return DType::kF32; }
template <>
constexpr DType DTypeOf<BFloat16>() { return DType::kBF16; }
template <>
constexpr DType DTypeOf<Float16>() { return DType::kF16; }
template <>
constexpr DType DTypeOf<int32_t>() { return DType::kI32; }
template <>
constexpr DType DTypeOf<int64_t>() { return DType::kI64; }
template <>
constexpr DType DTypeOf<uint8_t>() { return DType::kU8; }

inline float BF16ToF32(BFloat16 v) {
  uint32_t bits = static_cast<uint32_t>(v.bits) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// Round-to-nearest-even, NaN preserved (quiet), like torch's .to(torch.bfloat16).
inline BFloat16 F32ToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u) return BFloat16{static_cast<uint16_t>((bits >> 16) | 0x40)};
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return BFloat16{static_cast<uint16_t>((bits + rounding) >> 16)};
}

float F16ToF32(Float16 v);
Float16 F32ToF16(float f);  // Round-to-nearest-even, overflow to inf.

// Converts `n` elements of floating or integer type `src_dtype` to fp32.
void ConvertToF32(const void* src, DType src_dtype, float* dst, size_t n);
// Converts `n` fp32 values to `dst_dtype` (floating types only).
void ConvertFromF32(const float* src, void* dst, DType dst_dtype, size_t n);

}  // namespace qwen::core

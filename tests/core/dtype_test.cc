#include "core/dtype.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qwen::core {
namespace {

float FromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

uint16_t Bf16Bits(float f) { return F32ToBF16(f).bits; }
uint16_t F16Bits(float f) { return F32ToF16(f).bits; }

TEST(DTypeTest, SizesAndNames) {
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kI32), 4u);
  EXPECT_EQ(DTypeSize(DType::kI64), 8u);
  EXPECT_EQ(DTypeSize(DType::kU8), 1u);
  for (DType d : {DType::kF32, DType::kBF16, DType::kF16, DType::kI32, DType::kI64, DType::kU8}) {
    absl::StatusOr<DType> parsed = ParseDType(DTypeName(d));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_TRUE(IsFloating(DType::kBF16));
  EXPECT_FALSE(IsFloating(DType::kI32));
}

TEST(DTypeTest, UnknownDTypeIsInvalidArgument) {
  absl::StatusOr<DType> parsed = ParseDType("F64");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), testing::HasSubstr("F64"));
  EXPECT_FALSE(ParseDType("f32").ok());  // the spelling is case-sensitive, as in the format
}

TEST(BFloat16Test, EveryNonNanPatternRoundTrips) {
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    BFloat16 v{static_cast<uint16_t>(b)};
    float f = BF16ToF32(v);
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToBF16(f).bits, b) << "pattern " << b;
  }
}

TEST(BFloat16Test, RoundsToNearestEven) {
  EXPECT_EQ(Bf16Bits(1.0f), 0x3f80);
  EXPECT_EQ(Bf16Bits(FromBits(0x3f808000)), 0x3f80);  // tie, 0x3f80 is even: down
  EXPECT_EQ(Bf16Bits(FromBits(0x3f818000)), 0x3f82);  // tie, 0x3f81 is odd: up
  EXPECT_EQ(Bf16Bits(FromBits(0x3f808001)), 0x3f81);  // just above the tie: up
  EXPECT_EQ(Bf16Bits(FromBits(0x3f807fff)), 0x3f80);  // just below the tie: down
  EXPECT_EQ(Bf16Bits(-1.5f), 0xbfc0);
  EXPECT_EQ(Bf16Bits(std::numeric_limits<float>::max()), 0x7f80);  // overflows to inf
}

TEST(BFloat16Test, NanInfAndSubnormals) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(Bf16Bits(inf), 0x7f80);
  EXPECT_EQ(Bf16Bits(-inf), 0xff80);
  EXPECT_TRUE(std::isinf(BF16ToF32(BFloat16{0x7f80})));
  // A NaN whose payload lives only in the low 16 bits must not truncate to inf.
  uint16_t nan_bits = Bf16Bits(FromBits(0x7f800001));
  EXPECT_EQ(nan_bits & 0x7f80, 0x7f80);
  EXPECT_NE(nan_bits & 0x007f, 0);
  EXPECT_TRUE(std::isnan(BF16ToF32(BFloat16{nan_bits})));
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(std::nanf("")))));
  // Subnormals: the smallest bf16 subnormal is 2^-133.
  EXPECT_EQ(BF16ToF32(BFloat16{0x0001}), std::ldexp(1.0f, -133));
  EXPECT_EQ(Bf16Bits(std::ldexp(1.0f, -133)), 0x0001);
  EXPECT_EQ(Bf16Bits(FromBits(0x00008000)), 0x0000);  // tie between 0 and 0x0001: even (0)
  EXPECT_EQ(Bf16Bits(FromBits(0x00018000)), 0x0002);  // tie between 1 and 2: even (2)
  EXPECT_EQ(Bf16Bits(-0.0f), 0x8000);
}

TEST(Float16Test, EveryNonNanPatternRoundTrips) {
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    Float16 v{static_cast<uint16_t>(b)};
    float f = F16ToF32(v);
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToF16(f).bits, b) << "pattern " << b << " value " << f;
  }
}

TEST(Float16Test, KnownValues) {
  EXPECT_EQ(F16Bits(1.0f), 0x3c00);
  EXPECT_EQ(F16Bits(-2.0f), 0xc000);
  EXPECT_EQ(F16Bits(65504.0f), 0x7bff);
  EXPECT_FLOAT_EQ(F16ToF32(Float16{0x3555}), 0.333251953125f);
}

TEST(Float16Test, RoundsToNearestEven) {
  const float ulp = std::ldexp(1.0f, -10);         // spacing of halves in [1, 2)
  EXPECT_EQ(F16Bits(1.0f + ulp / 2), 0x3c00);      // tie, even mantissa: down
  EXPECT_EQ(F16Bits(1.0f + 3 * ulp / 2), 0x3c02);  // tie, odd mantissa: up
  EXPECT_EQ(F16Bits(std::nextafter(1.0f + ulp / 2, 2.0f)), 0x3c01);
  EXPECT_EQ(F16Bits(65519.0f), 0x7bff);  // below the overflow threshold: max half
  EXPECT_EQ(F16Bits(65520.0f), 0x7c00);  // the tie with 65536 rounds to even: inf
}

TEST(Float16Test, NanInfAndSubnormals) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(F16Bits(inf), 0x7c00);
  EXPECT_EQ(F16Bits(-inf), 0xfc00);
  EXPECT_EQ(F16Bits(1e10f), 0x7c00);
  EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(std::nanf("")))));
  EXPECT_TRUE(std::isnan(F16ToF32(Float16{0x7c01})));
  EXPECT_TRUE(std::isinf(F16ToF32(Float16{0xfc00})));
  const float tiny = std::ldexp(1.0f, -24);  // smallest half subnormal
  EXPECT_EQ(F16ToF32(Float16{0x0001}), tiny);
  EXPECT_EQ(F16Bits(tiny), 0x0001);
  EXPECT_EQ(F16Bits(tiny / 2), 0x0000);      // tie between 0 and 1: even
  EXPECT_EQ(F16Bits(tiny * 1.5f), 0x0002);   // tie between 1 and 2: even
  EXPECT_EQ(F16Bits(tiny * 0.75f), 0x0001);  // above the tie
  // Rounding up out of the subnormal range lands on the smallest normal.
  EXPECT_EQ(F16Bits(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)), 0x0400);
  EXPECT_EQ(F16Bits(-0.0f), 0x8000);
}

TEST(ConvertTest, BuffersRoundTrip) {
  const std::vector<float> src = {0.0f, 1.0f, -2.5f, 3.140625f, 1024.0f};
  for (DType d : {DType::kF32, DType::kBF16, DType::kF16}) {
    std::vector<uint8_t> buf(src.size() * DTypeSize(d));
    ConvertFromF32(src.data(), buf.data(), d, src.size());
    std::vector<float> back(src.size());
    ConvertToF32(buf.data(), d, back.data(), src.size());
    EXPECT_EQ(back, src) << DTypeName(d);  // all values are exact in every float type
  }
  const std::vector<int64_t> ints = {-3, 0, 7};
  std::vector<float> out(3);
  ConvertToF32(ints.data(), DType::kI64, out.data(), 3);
  EXPECT_EQ(out, (std::vector<float>{-3.0f, 0.0f, 7.0f}));
}

}  // namespace
}  // namespace qwen::core

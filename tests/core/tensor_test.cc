#include "core/tensor.h"

#include <cstdint>
#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qwen::core {
namespace {

std::vector<float> Values(const Tensor& t) {
  const float* p = t.data<float>();
  return std::vector<float>(p, p + t.numel());
}

TEST(TensorTest, ShapeHelpers) {
  EXPECT_EQ(ShapeToString({2, 3, 4}), "[2, 3, 4]");
  EXPECT_EQ(ShapeToString({}), "[]");
  EXPECT_EQ(NumElements({2, 3, 4}), 24);
  EXPECT_EQ(NumElements({}), 1);  // a scalar
  EXPECT_EQ(NumElements({5, 0}), 0);
}

TEST(TensorTest, ZerosIsZeroFilledAndAligned) {
  Tensor t = Tensor::Zeros({3, 5}, DType::kBF16);
  EXPECT_EQ(t.shape(), (Shape{3, 5}));
  EXPECT_EQ(t.rank(), 2);
  EXPECT_EQ(t.dim(0), 3);
  EXPECT_EQ(t.dim(-1), 5);
  EXPECT_EQ(t.numel(), 15);
  EXPECT_EQ(t.nbytes(), 30u);
  EXPECT_EQ(t.dtype(), DType::kBF16);
  EXPECT_EQ(t.device(), Device::kCpu);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
  const auto* bytes = static_cast<const uint8_t*>(t.raw_data());
  for (size_t i = 0; i < t.nbytes(); ++i) ASSERT_EQ(bytes[i], 0) << i;
  Tensor empty = Tensor::Zeros({0, 4}, DType::kF32);
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_NE(empty.raw_data(), nullptr);
}

TEST(TensorTest, FromVectorCopies) {
  std::vector<int32_t> v = {1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::FromVector(v, {2, 3});
  v[0] = 100;
  EXPECT_EQ(t.dtype(), DType::kI32);
  EXPECT_EQ(t.data<int32_t>()[0], 1);
  EXPECT_EQ(t.data<int32_t>()[5], 6);
}

TEST(TensorTest, ViewKeepsBackingStoreAliveAndDoesNotCopy) {
  bool released = false;
  std::vector<float> backing = {1, 2, 3, 4};
  auto keep_alive =
      std::shared_ptr<const void>(backing.data(), [&](const void*) { released = true; });
  Tensor view = Tensor::View(backing.data(), {2, 2}, DType::kF32, Device::kCpu, keep_alive);
  keep_alive.reset();
  EXPECT_FALSE(released);
  EXPECT_EQ(view.raw_data(), backing.data());
  backing[3] = 42;
  EXPECT_EQ(view.data<float>()[3], 42);
  {
    Tensor copy = view;  // shallow: shares data and the keep-alive
    view = Tensor();
    EXPECT_FALSE(released);
    EXPECT_EQ(copy.data<float>()[3], 42);
  }
  EXPECT_TRUE(released);
}

TEST(TensorTest, ReshapedSharesData) {
  Tensor t = Tensor::FromVector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor r = t.Reshaped({3, 2});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_EQ(r.raw_data(), t.raw_data());
  r.data<float>()[0] = 9;
  EXPECT_EQ(t.data<float>()[0], 9);
  EXPECT_DEATH(t.Reshaped({4, 2}), "cannot reshape");
}

TEST(TensorTest, SliceIsAViewOfRows) {
  Tensor t = Tensor::FromVector(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {4, 3});
  Tensor s = t.Slice(1, 3);
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values(s), (std::vector<float>{3, 4, 5, 6, 7, 8}));
  s.data<float>()[0] = -1;
  EXPECT_EQ(t.data<float>()[3], -1);
  EXPECT_EQ(t.Slice(4, 4).numel(), 0);
  Tensor v = Tensor::FromVector(std::vector<int64_t>{10, 20, 30}, {3});
  EXPECT_EQ(v.Slice(2, 3).data<int64_t>()[0], 30);
  EXPECT_DEATH(t.Slice(2, 5), "slice");
}

TEST(TensorTest, CloneIsDeep) {
  Tensor t = Tensor::FromVector(std::vector<float>{1, 2}, {2});
  Tensor c = t.Clone();
  EXPECT_NE(c.raw_data(), t.raw_data());
  c.data<float>()[0] = 5;
  EXPECT_EQ(t.data<float>()[0], 1);
}

TEST(TensorTest, ToConvertsFloatingTypes) {
  Tensor t = Tensor::FromVector(std::vector<float>{1.0f, -0.5f, 3.0f + 1.0f / 256}, {3});
  absl::StatusOr<Tensor> bf = t.To(DType::kBF16);
  ASSERT_TRUE(bf.ok()) << bf.status();
  EXPECT_EQ(bf->dtype(), DType::kBF16);
  EXPECT_EQ(bf->shape(), (Shape{3}));
  EXPECT_EQ(bf->data<BFloat16>()[0].bits, 0x3f80);
  // 3 + 2^-8 is not representable in bf16 (7-bit mantissa): it rounds to 3.
  EXPECT_EQ(Values(bf->ToF32()), (std::vector<float>{1.0f, -0.5f, 3.0f}));
  absl::StatusOr<Tensor> h = bf->To(DType::kF16);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->data<Float16>()[1].bits, 0xb800);
  absl::StatusOr<Tensor> same = t.To(DType::kF32);
  ASSERT_TRUE(same.ok());
  EXPECT_NE(same->raw_data(), t.raw_data());  // a copy even for the same dtype
}

TEST(TensorTest, ToConvertsIntegersAndRejectsMixedKinds) {
  Tensor t = Tensor::FromVector(std::vector<int32_t>{-7, 0, 2147483647}, {3});
  absl::StatusOr<Tensor> wide = t.To(DType::kI64);
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_EQ(wide->data<int64_t>()[0], -7);
  EXPECT_EQ(wide->data<int64_t>()[2], 2147483647);
  absl::StatusOr<Tensor> bad = t.To(DType::kF32);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), testing::HasSubstr("I32"));
}

TEST(TensorTest, ToF32FromIntegers) {
  Tensor t = Tensor::FromVector(std::vector<uint8_t>{0, 255}, {2});
  EXPECT_EQ(Values(t.ToF32()), (std::vector<float>{0, 255}));
}

}  // namespace
}  // namespace qwen::core

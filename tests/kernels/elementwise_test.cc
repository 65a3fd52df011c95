// Element-wise ops (kernels/elementwise.h) against double-precision formulas.
#include "kernels/elementwise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::Normal;

// exp, one division and a product in fp32: a few u relative error; 1e-6 is ~15 u.
constexpr double kRelTol = 1e-6;

TEST(ElementwiseTest, SiluMulAndAliasing) {
  std::vector<float> gate = Normal(37, 1, 4.0f), up = Normal(37, 2);
  gate[0] = -200.0f;  // exp(200) overflows fp32: silu must still be -0, not NaN
  gate[1] = 200.0f;
  std::vector<float> out(37);
  SiluMul(gate.data(), up.data(), out.data(), 37);
  for (size_t i = 0; i < out.size(); ++i) {
    const double want = gate[i] / (1.0 + std::exp(-static_cast<double>(gate[i]))) * up[i];
    ASSERT_NEAR(out[i], want, kRelTol * std::abs(want) + 1e-30) << i;
  }
  SiluMul(gate.data(), up.data(), gate.data(), 37);  // out aliases gate
  EXPECT_EQ(gate, out);
}

TEST(ElementwiseTest, MulSigmoid) {
  const std::vector<float> x0 = Normal(19, 3), gate = Normal(19, 4, 5.0f);
  std::vector<float> x = x0;
  MulSigmoid(x.data(), gate.data(), 19);
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = x0[i] / (1.0 + std::exp(-static_cast<double>(gate[i])));
    ASSERT_NEAR(x[i], want, kRelTol * std::abs(want) + 1e-30) << i;
  }
}

TEST(ElementwiseTest, AddIsExactAndMayAlias) {
  std::vector<float> a = {1.5f, -2.0f, 1e30f}, b = {0.25f, 2.0f, -1e30f}, out(3);
  Add(a.data(), b.data(), out.data(), 3);
  EXPECT_EQ(out, (std::vector<float>{1.75f, 0.0f, 0.0f}));
  Add(a.data(), b.data(), a.data(), 3);
  EXPECT_EQ(a, out);
}

TEST(ElementwiseTest, EmbeddingGather) {
  const std::vector<float> table = {0, 1, 10, 11, 20, 21};  // 3 rows of dim 2
  const int64_t ids[4] = {2, 0, 2, 1};
  std::vector<float> out(8);
  EmbeddingGather(table.data(), ids, out.data(), 4, 2);
  EXPECT_EQ(out, (std::vector<float>{20, 21, 0, 1, 20, 21, 10, 11}));
}

}  // namespace
}  // namespace qwen::kernels::cpu

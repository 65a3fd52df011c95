// GeluTanh and GeluErf (kernels/gelu.h) against double-precision formulas and hand values.
#include "kernels/gelu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::Uniform;

double RefTanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
double RefErf(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

// fp32 evaluation of either formula is accurate to a few units of 2^-24 relative to |x| (the
// 1 + tanh / 1 + erf cancellation for negative x loses relative accuracy of the tiny result but
// not absolute accuracy beyond |x| u); 1e-6 (1 + |x|) leaves a wide margin and stays ~100x below
// the tanh-vs-erf difference (>= 1e-4 around |x| ~ 1..2).
double Tol(double x) { return 1e-6 * (1.0 + std::abs(x)); }

TEST(GeluTest, HandValues) {
  // 0.5 (1 + erf(1/sqrt 2)) = 0.841344746..., tanh form 0.841191990... (python math module).
  const std::vector<float> x = {0.0f, 1.0f, -1.0f, 3.0f};
  std::vector<float> e(x.size()), t(x.size());
  GeluErf(x.data(), e.data(), 4);
  GeluTanh(x.data(), t.data(), 4);
  EXPECT_EQ(e[0], 0.0f);
  EXPECT_EQ(t[0], 0.0f);
  EXPECT_NEAR(e[1], 0.8413447460685429, 2e-7);
  EXPECT_NEAR(t[1], 0.8411919906082768, 2e-7);
  EXPECT_NEAR(e[2], -0.15865525393145707, 2e-7);
  EXPECT_NEAR(t[2], -0.15880800939172324, 2e-7);
  EXPECT_NEAR(e[3], 2.99595030590511, 1e-6);
  EXPECT_NEAR(t[3], 2.996362607918227, 1e-6);
}

TEST(GeluTest, MatchesDoubleFormulasOverAWideRange) {
  const int64_t n = 1001;
  const std::vector<float> x = Uniform(n, 11, -8.0f, 8.0f);
  std::vector<float> e(n), t(n);
  GeluErf(x.data(), e.data(), n);
  GeluTanh(x.data(), t.data(), n);
  double max_formula_gap = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_NEAR(e[i], RefErf(x[i]), Tol(x[i])) << "erf at x = " << x[i];
    ASSERT_NEAR(t[i], RefTanh(x[i]), Tol(x[i])) << "tanh at x = " << x[i];
    max_formula_gap = std::max(max_formula_gap, std::abs(RefErf(x[i]) - RefTanh(x[i])));
  }
  // The two activations are genuinely different: the test above would catch a swap.
  EXPECT_GT(max_formula_gap, 1e-4);
}

TEST(GeluTest, InPlace) {
  const std::vector<float> x0 = Uniform(37, 12, -4.0f, 4.0f);
  for (auto* fn : {&GeluErf, &GeluTanh}) {
    std::vector<float> out(x0.size()), x = x0;
    fn(x0.data(), out.data(), 37);
    fn(x.data(), x.data(), 37);
    EXPECT_EQ(x, out);
  }
}

}  // namespace
}  // namespace qwen::kernels::cpu

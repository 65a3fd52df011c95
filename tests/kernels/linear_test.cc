// Linear (kernels/linear.h) against a double-precision naive loop, and thread-count invariance.
#include "kernels/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <tuple>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::kUnitRoundoff;
using ::qwen::kernels::testing::Uniform;

constexpr float kGuard = 12345.0f;  // written around y to catch out-of-bounds stores

// Checks y against the exact (double) result with the rigorous a-priori bound of a fp32 sum of
// k + 1 terms (k products and the bias), whatever the summation order:
//   |y - exact| <= gamma_{k+1} (sum_i |x_i w_i| + |b|),  gamma_n = n u / (1 - n u) < 1.01 n u.
// A wrong index or a dropped term changes y by about one |x_i w_i|, far above this bound.
void ExpectMatchesNaive(const std::vector<float>& x, const std::vector<float>& w, const float* bias,
                        const float* y, int64_t m, int64_t n, int64_t k) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double exact = bias != nullptr ? bias[j] : 0.0;
      double magnitude = bias != nullptr ? std::abs(bias[j]) : 0.0;
      for (int64_t l = 0; l < k; ++l) {
        const double p = static_cast<double>(x[i * k + l]) * w[j * k + l];
        exact += p;
        magnitude += std::abs(p);
      }
      const double bound = 1.01 * static_cast<double>(k + 1) * kUnitRoundoff * magnitude;
      ASSERT_LE(std::abs(y[i * n + j] - exact), bound)
          << "m=" << m << " n=" << n << " k=" << k << " at (" << i << ", " << j << ")";
    }
  }
}

class LinearShapeTest : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(LinearShapeTest, MatchesDoubleNaiveLoop) {
  const auto [m, n, k] = GetParam();
  const std::vector<float> x = Uniform(int64_t{m} * k, 1 + m);
  const std::vector<float> w = Uniform(int64_t{n} * k, 2 + n);
  const std::vector<float> b = Uniform(n, 3 + k);
  for (const bool with_bias : {false, true}) {
    // y with a guard element on each side.
    std::vector<float> y(static_cast<size_t>(m) * n + 2, kGuard);
    Linear(x.data(), w.data(), with_bias ? b.data() : nullptr, y.data() + 1, m, n, k);
    EXPECT_EQ(y.front(), kGuard);
    EXPECT_EQ(y.back(), kGuard);
    ExpectMatchesNaive(x, w, with_bias ? b.data() : nullptr, y.data() + 1, m, n, k);
  }
}

INSTANTIATE_TEST_SUITE_P(AwkwardSizes, LinearShapeTest,
                         ::testing::Combine(::testing::Values(1, 3, 19, 111, 257),
                                            ::testing::Values(1, 3, 19, 111, 257),
                                            ::testing::Values(1, 3, 19, 111, 257)));

TEST(LinearTest, EmptyReductionGivesBias) {
  const std::vector<float> b = {1.5f, -2.0f, 0.25f};
  std::vector<float> y(6, kGuard);
  Linear(nullptr, nullptr, b.data(), y.data(), 2, 3, 0);
  EXPECT_EQ(y, (std::vector<float>{1.5f, -2.0f, 0.25f, 1.5f, -2.0f, 0.25f}));
}

TEST(LinearTest, HandComputedExample) {
  // x = [[1, 2, 3]], W = [[1, 0, -1], [0.5, 0.5, 0.5]], b = [10, 0] -> y = [[8, 3]].
  const float x[] = {1, 2, 3};
  const float w[] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
  const float b[] = {10, 0};
  float y[2] = {};
  Linear(x, w, b, y, 1, 2, 3);
  EXPECT_EQ(y[0], 8.0f);
  EXPECT_EQ(y[1], 3.0f);
}

// Every output element must be computed by the same fp32 operations whatever the thread count
// (the sizes are above the threading threshold, and n is not a multiple of the tile width).
TEST(LinearTest, ThreadCountDoesNotChangeBits) {
  struct Shape {
    int64_t m, n, k;
  };
  for (const Shape s : {Shape{19, 1111, 257}, Shape{64, 1024, 1024}, Shape{1, 4097, 1000},
                        Shape{257, 5, 1111}, Shape{3, 257, 2049}}) {
    ASSERT_GT(s.m * s.n * s.k, 1000000) << "shape must be large enough to use threads";
    const std::vector<float> x = Uniform(s.m * s.k, 11);
    const std::vector<float> w = Uniform(s.n * s.k, 12);
    const std::vector<float> b = Uniform(s.n, 13);
    std::vector<float> y1(static_cast<size_t>(s.m * s.n));
    Linear(x.data(), w.data(), b.data(), y1.data(), s.m, s.n, s.k, 1);
    for (const int threads : {2, 3, 4}) {
      std::vector<float> yt(static_cast<size_t>(s.m * s.n), kGuard);
      Linear(x.data(), w.data(), b.data(), yt.data(), s.m, s.n, s.k, threads);
      ASSERT_EQ(std::memcmp(y1.data(), yt.data(), y1.size() * sizeof(float)), 0)
          << "m=" << s.m << " n=" << s.n << " k=" << s.k << " threads=" << threads;
    }
    if (s.m * s.n * s.k < 30000000) ExpectMatchesNaive(x, w, b.data(), y1.data(), s.m, s.n, s.k);
  }
}

}  // namespace
}  // namespace qwen::kernels::cpu

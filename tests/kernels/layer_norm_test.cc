// LayerNorm (kernels/layer_norm.h) against a double-precision formula and hand-computed values.
#include "kernels/layer_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::Normal;

TEST(LayerNormTest, HandComputed) {
  // [1, 2, 3, 4]: mean 2.5, biased variance 1.25; eps 0; w = [1, 2, 1, 1], b = [0, 0, 0, 10].
  const std::vector<float> x = {1, 2, 3, 4};
  const std::vector<float> w = {1, 2, 1, 1};
  const std::vector<float> b = {0, 0, 0, 10};
  std::vector<float> y(4);
  LayerNorm(x.data(), w.data(), b.data(), y.data(),
            {.rows = 1, .dim = 4, .x_stride = 4, .y_stride = 4, .eps = 0.0f});
  const double s = 1.0 / std::sqrt(1.25);
  EXPECT_NEAR(y[0], -1.5 * s, 1e-6);
  EXPECT_NEAR(y[1], -0.5 * s * 2, 1e-6);
  EXPECT_NEAR(y[2], 0.5 * s, 1e-6);
  EXPECT_NEAR(y[3], 1.5 * s + 10, 1e-5);
}

TEST(LayerNormTest, EpsIsAddedToTheVariance) {
  // [0, 2e-3]: mean 1e-3, variance 1e-6; with eps 1e-6 the scale is 1/sqrt(2e-6).
  const std::vector<float> x = {0.0f, 2e-3f};
  const std::vector<float> w = {1.0f, 1.0f};
  std::vector<float> y(2);
  LayerNorm(x.data(), w.data(), nullptr, y.data(),
            {.rows = 1, .dim = 2, .x_stride = 2, .y_stride = 2, .eps = 1e-6f});
  EXPECT_NEAR(y[0], -1e-3 / std::sqrt(2e-6), 1e-5);
  EXPECT_NEAR(y[1], 1e-3 / std::sqrt(2e-6), 1e-5);
}

TEST(LayerNormTest, MatchesDoubleWithStridesOffsetsAndBias) {
  const int64_t rows = 9, dim = 259, x_stride = 270, y_stride = 261;
  const float eps = 1e-6f;
  std::vector<float> x = Normal(rows * x_stride, 21, 2.0f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < dim; ++i) x[r * x_stride + i] += 3.0f * static_cast<float>(r);
  }
  const std::vector<float> w = Normal(dim, 22, 0.5f);
  const std::vector<float> b = Normal(dim, 23, 0.5f);
  for (const bool with_bias : {true, false}) {
    std::vector<float> y(static_cast<size_t>(rows * y_stride), -7.0f);
    LayerNorm(x.data(), w.data(), with_bias ? b.data() : nullptr, y.data(),
              {.rows = rows, .dim = dim, .x_stride = x_stride, .y_stride = y_stride, .eps = eps});
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x.data() + r * x_stride;
      double mean = 0.0, var = 0.0;
      for (int64_t i = 0; i < dim; ++i) mean += xr[i];
      mean /= dim;
      for (int64_t i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      var /= dim;
      const double rstd = 1.0 / std::sqrt(var + eps);
      for (int64_t i = 0; i < dim; ++i) {
        const double want = (xr[i] - mean) * rstd * w[i] + (with_bias ? b[i] : 0.0);
        // The fp32 mean carries ~dim u |x| absolute error (|x| <= ~30 here), i.e. <= 1e-5 of
        // the normalised value; 2e-5 (1 + |want|) is well below any formula error (a missing
        // bias, the unbiased variance, eps outside the sqrt: >= 2e-3 here).
        ASSERT_NEAR(y[r * y_stride + i], want, 2e-5 * (1.0 + std::abs(want)))
            << "row " << r << " i " << i << " bias " << with_bias;
      }
      for (int64_t i = dim; i < y_stride; ++i) ASSERT_EQ(y[r * y_stride + i], -7.0f);
    }
  }
}

TEST(LayerNormTest, InPlace) {
  const int64_t rows = 4, dim = 33;
  std::vector<float> x = Normal(rows * dim, 24);
  const std::vector<float> w = Normal(dim, 25), b = Normal(dim, 26);
  const LayerNormParams p{.rows = rows, .dim = dim, .x_stride = dim, .y_stride = dim, .eps = 1e-6f};
  std::vector<float> y(x.size());
  LayerNorm(x.data(), w.data(), b.data(), y.data(), p);
  LayerNorm(x.data(), w.data(), b.data(), x.data(), p);
  EXPECT_EQ(x, y);
}

}  // namespace
}  // namespace qwen::kernels::cpu

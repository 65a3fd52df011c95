// RmsNorm, GatedRmsNorm and L2NormHeads (kernels/rms_norm.h) against double-precision formulas.
#include "kernels/rms_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::Normal;
using ::qwen::kernels::testing::Uniform;

// fp32 tolerance, relative to the magnitude of each output: a sum of squares over <= 1000
// elements, a sqrt and two or three products each add a few units of 2^-24 relative error;
// 1e-5 leaves a margin of ~10x over that and is far below any formula error (a missing +1, a
// mean taken over the wrong count or eps in the wrong place changes outputs by >= 1e-3).
constexpr double kRelTol = 1e-5;

double RefRms(const float* x, int64_t dim, double eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(x[i]) * x[i];
  return 1.0 / std::sqrt(ss / dim + eps);
}

TEST(RmsNormTest, ZeroCentredWeightWithStrides) {
  const int64_t rows = 7, dim = 259, x_stride = 300, y_stride = 270;
  const float eps = 1e-6f;
  const std::vector<float> x = Normal(rows * x_stride, 1, 3.0f);
  const std::vector<float> w = Normal(dim, 2, 0.1f);  // an offset from 1, as stored by Qwen3.5
  for (const float offset : {1.0f, 0.0f}) {
    std::vector<float> y(static_cast<size_t>(rows * y_stride), -7.0f);
    RmsNorm(x.data(), w.data(), y.data(),
            {.rows = rows,
             .dim = dim,
             .x_stride = x_stride,
             .y_stride = y_stride,
             .eps = eps,
             .weight_offset = offset});
    for (int64_t r = 0; r < rows; ++r) {
      const double inv = RefRms(x.data() + r * x_stride, dim, eps);
      for (int64_t i = 0; i < dim; ++i) {
        const double want = x[r * x_stride + i] * inv * (offset + static_cast<double>(w[i]));
        ASSERT_NEAR(y[r * y_stride + i], want, kRelTol * (std::abs(want) + 1e-30))
            << "offset " << offset << " row " << r << " i " << i;
      }
      for (int64_t i = dim; i < y_stride; ++i) ASSERT_EQ(y[r * y_stride + i], -7.0f);
    }
  }
}

TEST(RmsNormTest, InPlaceMatchesOutOfPlace) {
  const int64_t rows = 5, dim = 64;
  std::vector<float> x = Normal(rows * dim, 3);
  const std::vector<float> w = Normal(dim, 4, 0.1f);
  const RmsNormParams p{.rows = rows,
                        .dim = dim,
                        .x_stride = dim,
                        .y_stride = dim,
                        .eps = 1e-6f,
                        .weight_offset = 1.0f};
  std::vector<float> y(x.size());
  RmsNorm(x.data(), w.data(), y.data(), p);
  RmsNorm(x.data(), w.data(), x.data(), p);
  EXPECT_EQ(x, y);
}

TEST(RmsNormTest, EpsDominatesTinyInput) {
  // x = 1e-4 everywhere, eps = 1e-6: mean(x^2) = 1e-8, so y = 1e-4 / sqrt(1.01e-6) * (1 + 0).
  const std::vector<float> x(16, 1e-4f);
  const std::vector<float> w(16, 0.0f);
  std::vector<float> y(16);
  RmsNorm(
      x.data(), w.data(), y.data(),
      {.rows = 1, .dim = 16, .x_stride = 16, .y_stride = 16, .eps = 1e-6f, .weight_offset = 1.0f});
  const double want = 1e-4 / std::sqrt(1.01e-6);
  for (float v : y) EXPECT_NEAR(v, want, kRelTol * want);
}

TEST(GatedRmsNormTest, PlainWeightNormBeforeGate) {
  const int64_t rows = 6, dim = 128;
  const float eps = 1e-6f;
  const std::vector<float> x = Normal(rows * dim, 5, 2.0f);
  const std::vector<float> z = Normal(rows * dim, 6, 3.0f);
  const std::vector<float> w = Uniform(dim, 7, 0.5f, 1.5f);
  std::vector<float> y(x.size());
  GatedRmsNorm(x.data(), z.data(), w.data(), y.data(), rows, dim, eps);
  for (int64_t r = 0; r < rows; ++r) {
    const double inv = RefRms(x.data() + r * dim, dim, eps);
    for (int64_t i = 0; i < dim; ++i) {
      const double zi = z[r * dim + i];
      const double want = w[i] * (x[r * dim + i] * inv) * (zi / (1.0 + std::exp(-zi)));
      ASSERT_NEAR(y[r * dim + i], want, kRelTol * (std::abs(want) + 1e-30)) << r << " " << i;
    }
  }
  // In place (y aliases x) gives the same values.
  std::vector<float> x2 = x;
  GatedRmsNorm(x2.data(), z.data(), w.data(), x2.data(), rows, dim, eps);
  EXPECT_EQ(x2, y);
}

TEST(L2NormHeadsTest, PerHeadWithRowStrideAndScale) {
  const int64_t rows = 4, heads = 3, dim = 48, row_stride = heads * dim + 10;
  const float eps = 1e-6f, scale = 1.0f / std::sqrt(48.0f);
  const std::vector<float> x0 = Normal(rows * row_stride, 8, 0.7f);
  std::vector<float> x = x0;
  L2NormHeads(x.data(), rows, heads, dim, row_stride, eps, scale);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      const float* in = x0.data() + r * row_stride + h * dim;
      double ss = 0.0;
      for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(in[i]) * in[i];
      const double inv = 1.0 / std::sqrt(ss + eps);  // eps on the sum, not the mean
      for (int64_t i = 0; i < dim; ++i) {
        const double want = in[i] * inv * scale;
        ASSERT_NEAR(x[r * row_stride + h * dim + i], want, kRelTol * (std::abs(want) + 1e-30));
      }
    }
    // The gap after the heads is untouched.
    for (int64_t i = heads * dim; i < row_stride; ++i) {
      ASSERT_EQ(x[r * row_stride + i], x0[r * row_stride + i]);
    }
  }
}

TEST(L2NormHeadsTest, EpsIsAddedToTheSumOfSquares) {
  // One head [3e-4, 4e-4]: sum of squares 2.5e-7, so the norm is sqrt(2.5e-7 + 1e-6) (eps on
  // the sum), not sqrt(2.5e-7 / 2 + 1e-6) (eps on the mean).
  std::vector<float> x = {3e-4f, 4e-4f};
  L2NormHeads(x.data(), 1, 1, 2, 2, 1e-6f, 1.0f);
  const double norm = std::sqrt(1.25e-6);
  EXPECT_NEAR(x[0], 3e-4 / norm, kRelTol * 3e-4 / norm);
  EXPECT_NEAR(x[1], 4e-4 / norm, kRelTol * 4e-4 / norm);
}

}  // namespace
}  // namespace qwen::kernels::cpu

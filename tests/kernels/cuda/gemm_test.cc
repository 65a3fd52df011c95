// cuBLASLt GEMM (kernels/cuda/gemm.h) against the CPU reference Linear (kernels/linear.h) on the
// same bf16-rounded inputs.
#include "kernels/cuda/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <tuple>
#include <vector>

#include "kernels/cuda/detail/gemm_small_m.h"
#include "kernels/linear.h"
#include "tests/kernels/cuda/cuda_test_util.h"
#include "tests/kernels/cuda/gdn_test_data.h"
#include "tests/kernels/test_util.h"

namespace qwen::kernels::cuda {
namespace {

using ::qwen::kernels::testing::Bf16;
using ::qwen::kernels::testing::CudaTestWithParam;
using ::qwen::kernels::testing::DeviceBuffer;
using ::qwen::kernels::testing::FromBf16;
using ::qwen::kernels::testing::kUnitRoundoff;
using ::qwen::kernels::testing::RoundBf16;
using ::qwen::kernels::testing::RoundedBf16;
using ::qwen::kernels::testing::ToBf16;
using ::qwen::kernels::testing::Uniform;

using GemmCase = std::tuple<int, int, int>;  // m, n, k
class GemmTest : public CudaTestWithParam<GemmCase> {};

// Products of bf16 values are exact in fp32, so an fp32-accumulating GEMM differs from the exact
// result by at most the fp32 summation bound gamma_{k+1} * sum |x w|
// (tests/kernels/linear_test.cc); 4x that allows for split-K and the tensor cores' non-IEEE
// accumulation. A bf16 output adds one rounding: 2^-8 relative.
void Check(const std::vector<float>& x, const std::vector<float>& w, const float* bias,
           const std::vector<float>& got, int64_t m, int64_t n, int64_t k, int64_t ldy,
           bool bf16_out) {
  const char* variant =
      bf16_out ? (bias != nullptr ? "Gemm (bf16 out) with bias" : "Gemm (bf16 out) without bias")
               : (bias != nullptr ? "GemmF32Out (fp32 out) with bias"
                                  : "GemmF32Out (fp32 out) without bias");
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double exact = bias != nullptr ? bias[j] : 0.0,
             mag = bias != nullptr ? std::abs(bias[j]) : 0.0;
      for (int64_t l = 0; l < k; ++l) {
        const double p = static_cast<double>(x[i * k + l]) * w[j * k + l];
        exact += p;
        mag += std::abs(p);
      }
      double tol = 4.04 * static_cast<double>(k + 1) * kUnitRoundoff * mag;
      if (bf16_out) tol += std::ldexp(std::abs(exact), -8);
      ASSERT_LE(std::abs(got[i * ldy + j] - exact), tol)
          << variant << ": m=" << m << " n=" << n << " k=" << k << " at (" << i << ", " << j
          << "), got " << got[i * ldy + j] << ", exact " << exact;
    }
  }
}

TEST_P(GemmTest, MatchesCpuLinear) {
  const auto [m, n, k] = GetParam();
  std::unique_ptr<CublasLt> ctx;
  ASSERT_EQ(CublasLt::Create(32 << 20, &ctx), cudaSuccess);
  const std::vector<float> x = RoundedBf16(Uniform(int64_t{m} * k, 1 + m));
  const std::vector<float> w = RoundedBf16(Uniform(int64_t{n} * k, 2 + n));
  const std::vector<float> b = RoundedBf16(Uniform(n, 3 + k));
  DeviceBuffer<Bf16> dx(ToBf16(x)), dw(ToBf16(w)), db(ToBf16(b));
  DeviceBuffer<float> dbf(b);
  std::vector<float> ref(static_cast<size_t>(m) * n);
  ASSERT_GT(ctx->workspace_bytes(), 0u);
  for (const bool with_bias : {false, true}) {
    kernels::cpu::Linear(x.data(), w.data(), with_bias ? b.data() : nullptr, ref.data(), m, n, k);
    // bf16 output.
    DeviceBuffer<Bf16> dy(static_cast<size_t>(m) * n);
    dy.Poison();
    ASSERT_EQ(Gemm(*ctx, dx.get(), dw.get(), with_bias ? db.get() : nullptr, dy.get(),
                   {.m = m, .n = n, .k = k}, nullptr),
              cudaSuccess)
        << "cuBLAS status " << ctx->last_cublas_status();
    Check(x, w, with_bias ? b.data() : nullptr, FromBf16(dy.Download()), m, n, k, n, true);
    // fp32 output (LM head).
    DeviceBuffer<float> dyf(static_cast<size_t>(m) * n);
    dyf.Poison();
    ASSERT_EQ(GemmF32Out(*ctx, dx.get(), dw.get(), with_bias ? dbf.get() : nullptr, dyf.get(),
                         {.m = m, .n = n, .k = k}, nullptr),
              cudaSuccess)
        << "cuBLAS status " << ctx->last_cublas_status();
    const std::vector<float> yf = dyf.Download();
    Check(x, w, with_bias ? b.data() : nullptr, yf, m, n, k, n, false);
    // And norm-wise close to the CPU reference (both fp32 accumulations of the same products).
    EXPECT_TRUE(::qwen::kernels::testing::NormwiseClose(yf, ref, 1e-5));
  }
  // Plans cached once each: bf16 out; fp32 out (also the fp32 product of the bf16 output with a
  // bias, written into the context's contiguous scratch); fp32 out with the BIAS epilogue. A few
  // rows without a bias take the small-M kernel instead of the first two.
  const bool small_m = m <= detail::kSmallMMaxRows && k % 8 == 0;
  EXPECT_EQ(ctx->cached_plans(), small_m ? 1u : 3u);
  EXPECT_GE(ctx->bias_scratch_elems(), static_cast<size_t>(m) * n);
}

INSTANTIATE_TEST_SUITE_P(AwkwardSizes, GemmTest,
                         ::testing::Combine(::testing::Values(1, 19, 111),
                                            ::testing::Values(8, 19, 256),
                                            ::testing::Values(16, 111, 1024)));

class GemmStridedTest : public CudaTestWithParam<int> {};

TEST_P(GemmStridedTest, StridedRowsAndRepeatedCallsAreIdentical) {
  // x rows inside a wider buffer and y written into a slice of a wider output (a fused projection
  // split into parts), called twice: the cached plan gives bit-identical results.
  const int64_t m = GetParam(), n = 72, k = 264, ldx = 400, ldy = 200;
  std::unique_ptr<CublasLt> ctx;
  ASSERT_EQ(CublasLt::Create(0, &ctx), cudaSuccess);  // no workspace is valid too
  const std::vector<float> xs = RoundedBf16(Uniform(m * ldx, 7));
  const std::vector<float> w = RoundedBf16(Uniform(n * k, 8));
  std::vector<float> x(m * k);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t l = 0; l < k; ++l) x[i * k + l] = xs[i * ldx + l];
  }
  DeviceBuffer<Bf16> dx(ToBf16(xs)), dw(ToBf16(w)), dy(m * ldy);
  dy.Poison(0x00);
  const GemmParams p{.m = m, .n = n, .k = k, .x_stride = ldx, .y_stride = ldy};
  ASSERT_EQ(Gemm(*ctx, dx.get(), dw.get(), nullptr, dy.get() + 8, p, nullptr), cudaSuccess);
  const std::vector<Bf16> y1 = dy.Download();
  ASSERT_EQ(Gemm(*ctx, dx.get(), dw.get(), nullptr, dy.get() + 8, p, nullptr), cudaSuccess);
  const std::vector<Bf16> y2 = dy.Download();
  EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(Bf16)), 0);
  std::vector<float> got(m * ldy);
  const std::vector<float> yf = FromBf16(y1);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < ldy; ++j) {
      const bool inside = j >= 8 && j < 8 + n;
      if (!inside) {
        ASSERT_EQ(yf[i * ldy + j], 0.0f) << "write outside the slice at " << i << "," << j;
      }
    }
    for (int64_t j = 0; j < n; ++j) got[i * ldy + j] = yf[i * ldy + 8 + j];
  }
  Check(x, w, nullptr, got, m, n, k, ldy, true);
  // With a bias: the bias-convert kernel honours y_stride (writes only the slice, rows ldy apart).
  const std::vector<float> b = RoundedBf16(Uniform(n, 9));
  DeviceBuffer<Bf16> db(ToBf16(b));
  dy.Poison(0x00);
  ASSERT_EQ(Gemm(*ctx, dx.get(), dw.get(), db.get(), dy.get() + 8, p, nullptr), cudaSuccess);
  const std::vector<float> yb = FromBf16(dy.Download());
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < ldy; ++j) {
      if (j < 8 || j >= 8 + n) {
        ASSERT_EQ(yb[i * ldy + j], 0.0f) << "bias: write outside the slice at " << i << "," << j;
      }
    }
    for (int64_t j = 0; j < n; ++j) got[i * ldy + j] = yb[i * ldy + 8 + j];
  }
  Check(x, w, b.data(), got, m, n, k, ldy, true);
  // The bf16-out plan and the fp32-out plan of the bias path's scratch (none for the small-M
  // kernel).
  EXPECT_EQ(ctx->cached_plans(), m <= detail::kSmallMMaxRows ? 0u : 2u);
}

INSTANTIATE_TEST_SUITE_P(Rows, GemmStridedTest, ::testing::Values(1, 3, 19, 111));

// The small-M kernel at every row count it takes, with n not a multiple of its 4 rows per warp and
// k ending inside a 256-element step, strided x and y (bf16 and fp32 outputs), against the exact
// products; and a row count it does not take (5) through cuBLASLt for comparison.
using SmallMCase = std::tuple<int, int, int>;  // m, n, k
class GemmSmallMTest : public CudaTestWithParam<SmallMCase> {};

TEST_P(GemmSmallMTest, MatchesExactProducts) {
  const auto [m, n, k] = GetParam();
  const int64_t ldx = k + 24, ldy = n + 5;
  std::unique_ptr<CublasLt> ctx;
  ASSERT_EQ(CublasLt::Create(32 << 20, &ctx), cudaSuccess);
  const std::vector<float> xs = RoundedBf16(Uniform(int64_t{m} * ldx, 11 + m));
  const std::vector<float> w = RoundedBf16(Uniform(int64_t{n} * k, 12 + n));
  std::vector<float> x(static_cast<size_t>(m) * k);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t l = 0; l < k; ++l) x[i * k + l] = xs[i * ldx + l];
  }
  DeviceBuffer<Bf16> dx(ToBf16(xs)), dw(ToBf16(w)), dy(static_cast<size_t>(m) * ldy);
  DeviceBuffer<float> dyf(static_cast<size_t>(m) * ldy);
  const GemmParams p{.m = m, .n = n, .k = k, .x_stride = ldx, .y_stride = ldy};
  dy.Poison();
  dyf.Poison();
  ASSERT_EQ(Gemm(*ctx, dx.get(), dw.get(), nullptr, dy.get(), p, nullptr), cudaSuccess);
  ASSERT_EQ(GemmF32Out(*ctx, dx.get(), dw.get(), nullptr, dyf.get(), p, nullptr), cudaSuccess);
  Check(x, w, nullptr, FromBf16(dy.Download()), m, n, k, ldy, true);
  Check(x, w, nullptr, dyf.Download(), m, n, k, ldy, false);
  EXPECT_EQ(ctx->cached_plans(), m <= detail::kSmallMMaxRows ? 0u : 2u);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GemmSmallMTest,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4, 5),
                                            ::testing::Values(1, 7, 4101),
                                            ::testing::Values(8, 264, 4104)));

}  // namespace
}  // namespace qwen::kernels::cuda

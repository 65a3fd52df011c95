// The warp-per-row LayerNorm kernels of the vision encoder (detail/vision_norm.cuh) run from their
// own source on the CPU SIMT emulator (simt_emulation.h: every thread a fiber, the butterfly
// shuffles executed when the whole warp arrives):
//   * LayerNormWarpKernel against the CPU reference (kernels/cpu LayerNorm, then bf16): the sums
//     run in another order, so within a bf16 ulp; in place (y == x) bit for bit as out of place;
//   * BiasResidualLayerNormKernel against the unfused sequence it replaces, bit for bit: the GEMM
//     bias conversion (BiasConvertRow), the bf16 residual add, then LayerNormWarpKernel on the
//     rounded residual; and its normed output against the CPU reference.
// Rows 1, 3 and 37 (a partial last block of 4 warps), dims from one chunk (8) to the widest
// instantiation (4096) including ones whose last chunk round leaves lanes idle (72, 1160), row
// strides above dim; outputs start as NaN, so unwritten elements and writes into the row padding
// both show.
// clang-format off (the emulator defines the CUDA built-ins: it comes before every other header)
#include "tests/kernels/cuda/simt_emulation.h"
// clang-format on

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cuda/detail/gemm_bias.h"
#include "kernels/cuda/detail/vision_norm.cuh"
#include "kernels/layer_norm.h"
#include "tests/kernels/cuda/gdn_test_data.h"
#include "tests/kernels/test_util.h"

namespace qwen::kernels::cuda::detail {
namespace {

using ::qwen::kernels::testing::ElementwiseClose;
using ::qwen::kernels::testing::FromBf16;
using ::qwen::kernels::testing::Normal;
using ::qwen::kernels::testing::RoundBf16;
using ::qwen::kernels::testing::RoundedBf16;
using ::qwen::kernels::testing::ToBf16;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The launcher's run-time choice of instantiation, as a compile-time constant for `f`.
template <class F>
void WithChunks(int chunks, F&& f) {
  switch (chunks) {
#define QWEN_LN_CASE(n)                  \
  case n:                                \
    f(std::integral_constant<int, n>{}); \
    return;
    QWEN_LN_WARP_CHUNKS(QWEN_LN_CASE)
#undef QWEN_LN_CASE
    default:
      FAIL() << "no instantiation for " << chunks << " chunks per lane";
  }
}

void RunLayerNormWarp(const LayerNormArgs& a) {
  WithChunks(LnWarpChunks(a.dim), [&](auto c) {
    emu::Launch(dim3(static_cast<unsigned>(LnWarpBlocks(a.rows))), dim3(kLnWarpThreads), 1, 0,
                [&] { LayerNormWarpKernel<decltype(c)::value>(a); });
  });
}

void RunBiasResidualLn(const BiasResidualLnArgs& a) {
  WithChunks(LnWarpChunks(a.dim), [&](auto c) {
    emu::Launch(dim3(static_cast<unsigned>(LnWarpBlocks(a.rows))), dim3(kLnWarpThreads), 1, 0,
                [&] { BiasResidualLayerNormKernel<decltype(c)::value>(a); });
  });
}

// Rows [rows, dim] of a strided bf16 buffer, as floats.
std::vector<float> Rows(const std::vector<__nv_bfloat16>& v, int64_t rows, int64_t dim,
                        int64_t stride) {
  std::vector<float> out(rows * dim);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < dim; ++i) out[r * dim + i] = __bfloat162float(v[r * stride + i]);
  }
  return out;
}

// Every element of the row padding (columns dim .. stride - 1) is still NaN.
::testing::AssertionResult PaddingUntouched(const std::vector<__nv_bfloat16>& v, int64_t rows,
                                            int64_t dim, int64_t stride) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = dim; i < stride; ++i) {
      if (!std::isnan(__bfloat162float(v[r * stride + i]))) {
        return ::testing::AssertionFailure() << "write into the padding at " << r << "," << i;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

struct Shape {
  int64_t rows, dim;
};

std::vector<Shape> Shapes() {
  std::vector<Shape> s;
  for (const int64_t rows : {int64_t{1}, int64_t{3}, int64_t{37}}) {
    for (const int64_t dim : {int64_t{8}, int64_t{72}, int64_t{1152}, int64_t{1160}}) {
      s.push_back({rows, dim});
    }
  }
  s.push_back({5, 2048});
  s.push_back({3, 4096});
  return s;
}

// bf16 rows with an offset mean (a drifting residual stream stresses the two-pass variance).
std::vector<float> ResidualRows(int64_t n, uint32_t seed) {
  std::vector<float> x = Normal(n, seed, 2.0f);
  for (float& e : x) e += 3.0f;
  return RoundedBf16(x);
}

TEST(VisionNormEmulationTest, ChunksCoverEveryRowWidthUpToTheLimit) {
  EXPECT_EQ(LnWarpChunks(8), 1);
  EXPECT_EQ(LnWarpChunks(256), 1);
  EXPECT_EQ(LnWarpChunks(264), 2);
  EXPECT_EQ(LnWarpChunks(768), 4);
  EXPECT_EQ(LnWarpChunks(1152), 5);
  EXPECT_EQ(LnWarpChunks(1280), 5);
  EXPECT_EQ(LnWarpChunks(4096), 16);
  for (const int64_t bad : {int64_t{0}, int64_t{4}, int64_t{12}, int64_t{4104}, int64_t{1} << 20}) {
    EXPECT_EQ(LnWarpChunks(bad), 0) << bad;
  }
  for (int64_t dim = 8; dim <= kLnWarpMaxDim; dim += 8) {
    const int chunks = LnWarpChunks(dim);
    ASSERT_GE(int64_t{chunks} * kLnWarpSize * kLnChunk, dim) << dim;
  }
}

TEST(VisionNormEmulationTest, LayerNormWarpMatchesCpuAndRunsInPlace) {
  for (const Shape s : Shapes()) {
    for (const bool with_b : {true, false}) {
      const int64_t xs = s.dim + 8, ys = s.dim + 16;
      const uint32_t seed = static_cast<uint32_t>(s.rows * 7 + s.dim);
      const std::vector<float> x = ResidualRows(s.rows * xs, seed);
      const std::vector<float> w = RoundedBf16(Normal(s.dim, seed + 1, 0.5f));
      const std::vector<float> b = RoundedBf16(Normal(s.dim, seed + 2, 0.2f));
      std::vector<float> ref(s.rows * s.dim);
      cpu::LayerNorm(
          x.data(), w.data(), with_b ? b.data() : nullptr, ref.data(),
          {.rows = s.rows, .dim = s.dim, .x_stride = xs, .y_stride = s.dim, .eps = 1e-6f});
      std::vector<__nv_bfloat16> xb = ToBf16(x);
      const std::vector<__nv_bfloat16> wb = ToBf16(w), bb = ToBf16(b);
      std::vector<__nv_bfloat16> y(s.rows * ys, __float2bfloat16(kNaN));
      LayerNormArgs a;
      a.x = xb.data();
      a.w = wb.data();
      a.b = with_b ? bb.data() : nullptr;
      a.y = y.data();
      a.rows = s.rows;
      a.dim = static_cast<int>(s.dim);
      a.x_stride = xs;
      a.y_stride = ys;
      RunLayerNormWarp(a);
      const std::vector<float> got = Rows(y, s.rows, s.dim, ys);
      EXPECT_TRUE(ElementwiseClose(got, RoundedBf16(ref), 1e-2, 1e-6))
          << s.rows << " rows of " << s.dim << (with_b ? " with b" : "");
      EXPECT_TRUE(PaddingUntouched(y, s.rows, s.dim, ys));
      // In place: the row is in registers before the first store.
      a.y = xb.data();
      a.y_stride = xs;
      RunLayerNormWarp(a);
      EXPECT_EQ(Rows(xb, s.rows, s.dim, xs), got) << s.rows << " rows of " << s.dim << " in place";
    }
  }
}

// The unfused sequence of the encoder block: Gemm's bias conversion into t, then the bf16
// residual add (kcu::Add), then LayerNormWarpKernel on the rounded residual.
struct Unfused {
  std::vector<float> residual;        // [rows, dim]
  std::vector<__nv_bfloat16> normed;  // [rows, dim]
};

Unfused RunUnfused(const std::vector<float>& acc, int64_t as, const std::vector<float>& bias,
                   bool with_bias, const std::vector<float>& res, int64_t rs,
                   const std::vector<__nv_bfloat16>& w, const __nv_bfloat16* b, Shape s) {
  std::vector<float> acc_rows(s.rows * s.dim);
  for (int64_t r = 0; r < s.rows; ++r) {
    for (int64_t i = 0; i < s.dim; ++i) acc_rows[r * s.dim + i] = acc[r * as + i];
  }
  std::vector<__nv_bfloat16> t(s.rows * s.dim);
  if (with_bias) {
    const std::vector<__nv_bfloat16> bias_b = ToBf16(bias);
    BiasConvertArgs ca;
    ca.acc = acc_rows.data();
    ca.bias = bias_b.data();
    ca.y = t.data();
    ca.m = s.rows;
    ca.n = s.dim;
    ca.ldy = s.dim;
    for (int64_t r = 0; r < s.rows; ++r) BiasConvertRow(HostBlock{}, ca, r);
  } else {
    t = ToBf16(acc_rows);  // Gemm without a bias rounds its product once
  }
  Unfused u;
  u.residual.resize(s.rows * s.dim);
  for (int64_t r = 0; r < s.rows; ++r) {
    for (int64_t i = 0; i < s.dim; ++i) {
      u.residual[r * s.dim + i] = RoundBf16(res[r * rs + i] + __bfloat162float(t[r * s.dim + i]));
    }
  }
  const std::vector<__nv_bfloat16> xb = ToBf16(u.residual);
  u.normed.assign(s.rows * s.dim, __float2bfloat16(kNaN));
  LayerNormArgs a;
  a.x = xb.data();
  a.w = w.data();
  a.b = b;
  a.y = u.normed.data();
  a.rows = s.rows;
  a.dim = static_cast<int>(s.dim);
  a.x_stride = s.dim;
  a.y_stride = s.dim;
  RunLayerNormWarp(a);
  return u;
}

TEST(VisionNormEmulationTest, BiasResidualLayerNormEqualsTheUnfusedSequence) {
  for (const Shape s : Shapes()) {
    for (const bool with_bias : {true, false}) {
      const int64_t as = s.dim + 4, rs = s.dim + 8, ns = s.dim + 24;
      const uint32_t seed = static_cast<uint32_t>(s.rows * 11 + s.dim);
      // fp32 products of the size of the residual, so that both roundings matter.
      const std::vector<float> acc = Normal(s.rows * as, seed, 2.0f);
      const std::vector<float> bias = RoundedBf16(Normal(s.dim, seed + 1, 1.0f));
      const std::vector<float> res = ResidualRows(s.rows * rs, seed + 2);
      const std::vector<float> w = RoundedBf16(Normal(s.dim, seed + 3, 0.5f));
      const std::vector<float> b = RoundedBf16(Normal(s.dim, seed + 4, 0.2f));
      const std::vector<__nv_bfloat16> bias_b = ToBf16(bias), wb = ToBf16(w), bb = ToBf16(b);
      const Unfused want = RunUnfused(acc, as, bias, with_bias, res, rs, wb, bb.data(), s);

      std::vector<__nv_bfloat16> residual = ToBf16(res);
      for (int64_t r = 0; r < s.rows; ++r) {  // NaN padding: the kernel must not touch it
        for (int64_t i = s.dim; i < rs; ++i) residual[r * rs + i] = __float2bfloat16(kNaN);
      }
      std::vector<__nv_bfloat16> normed(s.rows * ns, __float2bfloat16(kNaN));
      BiasResidualLnArgs a;
      a.acc = acc.data();
      a.bias = with_bias ? bias_b.data() : nullptr;
      a.residual = residual.data();
      a.w = wb.data();
      a.b = bb.data();
      a.normed = normed.data();
      a.rows = s.rows;
      a.dim = static_cast<int>(s.dim);
      a.acc_stride = as;
      a.residual_stride = rs;
      a.normed_stride = ns;
      RunBiasResidualLn(a);
      const std::string what = std::to_string(s.rows) + " rows of " + std::to_string(s.dim) +
                               (with_bias ? " with bias" : " without bias");
      EXPECT_EQ(Rows(residual, s.rows, s.dim, rs), want.residual) << what;
      EXPECT_EQ(Rows(normed, s.rows, s.dim, ns), FromBf16(want.normed)) << what;
      EXPECT_TRUE(PaddingUntouched(residual, s.rows, s.dim, rs)) << what;
      EXPECT_TRUE(PaddingUntouched(normed, s.rows, s.dim, ns)) << what;
      std::vector<float> ref(s.rows * s.dim);
      cpu::LayerNorm(
          want.residual.data(), w.data(), b.data(), ref.data(),
          {.rows = s.rows, .dim = s.dim, .x_stride = s.dim, .y_stride = s.dim, .eps = 1e-6f});
      EXPECT_TRUE(ElementwiseClose(Rows(normed, s.rows, s.dim, ns), RoundedBf16(ref), 1e-2, 1e-6))
          << what;
    }
  }
}

TEST(VisionNormEmulationTest, BiasResidualWithoutNormedOnlyUpdatesTheResidual) {
  const Shape s{37, 72};
  const std::vector<float> acc = Normal(s.rows * s.dim, 5, 2.0f);
  const std::vector<float> bias = RoundedBf16(Normal(s.dim, 6));
  const std::vector<float> res = ResidualRows(s.rows * s.dim, 7);
  const std::vector<__nv_bfloat16> bias_b = ToBf16(bias);
  std::vector<__nv_bfloat16> residual = ToBf16(res);
  BiasResidualLnArgs a;
  a.acc = acc.data();
  a.bias = bias_b.data();
  a.residual = residual.data();
  a.rows = s.rows;
  a.dim = static_cast<int>(s.dim);
  a.acc_stride = s.dim;
  a.residual_stride = s.dim;
  RunBiasResidualLn(a);  // w, b and normed are nullptr: never read or written
  for (int64_t r = 0; r < s.rows; ++r) {
    for (int64_t i = 0; i < s.dim; ++i) {
      const int64_t e = r * s.dim + i;
      ASSERT_EQ(__bfloat162float(residual[e]),
                RoundBf16(res[e] + __bfloat162float(BiasConvertElem(acc[e], bias_b[i]))))
          << r << "," << i;
    }
  }
}

}  // namespace
}  // namespace qwen::kernels::cuda::detail

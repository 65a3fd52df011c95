// Vision encoder CUDA ops (kernels/cuda/vision.h, kernels/cuda/vision_attention.h) against the
// CPU references (kernels/layer_norm.h, gelu.h, vision_rope.h, vision_pos_embed.h,
// vision_attention.h) on the same bf16-rounded inputs, and the fused ones (BiasResidualLayerNorm,
// BiasVisionRope) bit for bit against the unfused launches they replace. bf16 outputs: the
// reference's fp32 value rounded once is within 2^-9 relative, so |got - ref| <= 1e-2 |ref| + a
// small absolute floor for values that cancel to near zero (different fp32 rounding of the same
// formula, or of the accurate tanhf/erff/cosf of CUDA vs glibc). Segment attention rounds p to bf16
// as the paged prefill does: |got - ref| <= 1e-2 |ref| + 2.5e-3 max|v|.
#include "kernels/cuda/vision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <vector>

#include "kernels/cuda/detail/gemm_bias.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/vision_attention.h"
#include "kernels/gelu.h"
#include "kernels/layer_norm.h"
#include "kernels/vision_attention.h"
#include "kernels/vision_pos_embed.h"
#include "kernels/vision_rope.h"
#include "tests/kernels/cuda/cuda_test_util.h"
#include "tests/kernels/cuda/gdn_test_data.h"
#include "tests/kernels/test_util.h"

namespace qwen::kernels::cuda {
namespace {

using ::qwen::kernels::testing::Bf16;
using ::qwen::kernels::testing::CudaTest;
using ::qwen::kernels::testing::CudaTestWithParam;
using ::qwen::kernels::testing::DeviceBuffer;
using ::qwen::kernels::testing::ElementwiseClose;
using ::qwen::kernels::testing::FromBf16;
using ::qwen::kernels::testing::Normal;
using ::qwen::kernels::testing::RoundedBf16;
using ::qwen::kernels::testing::ToBf16;
using ::qwen::kernels::testing::Uniform;

constexpr double kBf16Rel = 1e-2;

// Rows [rows, dim] out of a strided [rows, stride] buffer.
std::vector<float> Compact(const std::vector<float>& v, int64_t rows, int64_t dim, int64_t stride) {
  std::vector<float> out(rows * dim);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < dim; ++i) out[r * dim + i] = v[r * stride + i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// LayerNorm

struct LnCase {
  int64_t rows, dim, x_stride, y_stride;
  bool bias;
};
void PrintTo(const LnCase& c, std::ostream* os) {
  *os << "R" << c.rows << "_dim" << c.dim << "_xs" << c.x_stride << "_ys" << c.y_stride
      << (c.bias ? "_bias" : "");
}
class LayerNormTest : public CudaTestWithParam<LnCase> {};

TEST_P(LayerNormTest, MatchesCpuOutOfPlaceAndInPlace) {
  const LnCase c = GetParam();
  // An offset mean (residual streams drift) stresses the two-pass variance.
  std::vector<float> x = Normal(c.rows * c.x_stride, 1, 3.0f);
  for (float& v : x) v += 5.0f;
  x = RoundedBf16(x);
  const std::vector<float> w = RoundedBf16(Normal(c.dim, 2, 0.5f));
  const std::vector<float> b = RoundedBf16(Normal(c.dim, 3, 0.2f));
  std::vector<float> ref(c.rows * c.dim);
  cpu::LayerNorm(
      x.data(), w.data(), c.bias ? b.data() : nullptr, ref.data(),
      {.rows = c.rows, .dim = c.dim, .x_stride = c.x_stride, .y_stride = c.dim, .eps = 1e-6f});
  DeviceBuffer<Bf16> dx(ToBf16(x)), dw(ToBf16(w)), db(ToBf16(b));
  DeviceBuffer<Bf16> dy(c.rows * c.y_stride);
  dy.Poison();
  const LayerNormParams p{
      .rows = c.rows, .dim = c.dim, .x_stride = c.x_stride, .y_stride = c.y_stride, .eps = 1e-6f};
  ASSERT_EQ(LayerNorm(dx.get(), dw.get(), c.bias ? db.get() : nullptr, dy.get(), p, nullptr),
            cudaSuccess);
  const std::vector<float> y = FromBf16(dy.Download());
  EXPECT_TRUE(ElementwiseClose(Compact(y, c.rows, c.dim, c.y_stride), ref, kBf16Rel, 1e-4));
  // In place (y = x, the x stride).
  LayerNormParams pi = p;
  pi.y_stride = c.x_stride;
  ASSERT_EQ(LayerNorm(dx.get(), dw.get(), c.bias ? db.get() : nullptr, dx.get(), pi, nullptr),
            cudaSuccess);
  const std::vector<float> yi = FromBf16(dx.Download());
  EXPECT_EQ(Compact(yi, c.rows, c.dim, c.x_stride), Compact(y, c.rows, c.dim, c.y_stride));
}

// Warp per row (dim % 8 == 0, <= 4096, strides % 8 == 0) and the block-per-row fallback.
INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormTest,
                         ::testing::Values(LnCase{1, 1152, 1152, 1152, true},
                                           LnCase{19, 1152, 1160, 1200, true},
                                           LnCase{37, 8, 8, 16, true}, LnCase{3, 72, 80, 72, false},
                                           LnCase{5, 4096, 4096, 4104, true},
                                           LnCase{64, 1280, 1280, 1280, true},
                                           LnCase{111, 1000, 1003, 1000, false},  // fallback
                                           LnCase{7, 4608, 4608, 4608, true},     // fallback
                                           LnCase{3, 37, 40, 37, true}));         // fallback

// ---------------------------------------------------------------------------------------------
// Bias + residual add + LayerNorm: the same bits as the unfused Gemm bias conversion, Add and
// LayerNorm; the residual exactly bf16(residual + bf16(acc + bias)), normed within LayerNorm's
// tolerance of the CPU reference.

struct ResLnCase {
  int64_t rows, dim, acc_stride, residual_stride, normed_stride;
  bool bias, b;
};
void PrintTo(const ResLnCase& c, std::ostream* os) {
  *os << "R" << c.rows << "_dim" << c.dim << "_as" << c.acc_stride << "_rs" << c.residual_stride
      << "_ns" << c.normed_stride << (c.bias ? "_bias" : "") << (c.b ? "_b" : "");
}
class BiasResidualLayerNormTest : public CudaTestWithParam<ResLnCase> {};

TEST_P(BiasResidualLayerNormTest, EqualsBiasConvertAddLayerNorm) {
  const ResLnCase c = GetParam();
  const std::vector<float> acc = Normal(c.rows * c.acc_stride, 11, 2.0f);  // fp32 GEMM products
  const std::vector<float> bias = RoundedBf16(Normal(c.dim, 12));
  std::vector<float> res = Normal(c.rows * c.residual_stride, 13, 3.0f);
  for (float& v : res) v += 5.0f;
  res = RoundedBf16(res);
  const std::vector<float> w = RoundedBf16(Normal(c.dim, 14, 0.5f));
  const std::vector<float> b = RoundedBf16(Normal(c.dim, 15, 0.2f));
  std::vector<float> want(c.rows * c.dim);
  for (int64_t r = 0; r < c.rows; ++r) {
    for (int64_t i = 0; i < c.dim; ++i) {
      const float p = acc[r * c.acc_stride + i];
      const float t = ::qwen::kernels::testing::RoundBf16(c.bias ? p + bias[i] : p);
      want[r * c.dim + i] = ::qwen::kernels::testing::RoundBf16(res[r * c.residual_stride + i] + t);
    }
  }
  DeviceBuffer<float> dacc(acc);
  DeviceBuffer<Bf16> dbias(ToBf16(bias)), dres(ToBf16(res)), dw(ToBf16(w)), db(ToBf16(b));
  DeviceBuffer<Bf16> dnormed(c.rows * c.normed_stride);
  dnormed.Poison();
  const BiasResidualLayerNormParams p{.rows = c.rows,
                                      .dim = c.dim,
                                      .acc_stride = c.acc_stride,
                                      .residual_stride = c.residual_stride,
                                      .normed_stride = c.normed_stride,
                                      .eps = 1e-6f};
  ASSERT_EQ(BiasResidualLayerNorm(dacc.get(), c.bias ? dbias.get() : nullptr, dres.get(), dw.get(),
                                  c.b ? db.get() : nullptr, dnormed.get(), p, nullptr),
            cudaSuccess);
  const std::vector<Bf16> res_out = dres.Download();
  const std::vector<float> residual = Compact(FromBf16(res_out), c.rows, c.dim, c.residual_stride);
  EXPECT_EQ(residual, want);
  for (int64_t r = 0; r < c.rows; ++r) {  // the row padding keeps its input
    for (int64_t i = c.dim; i < c.residual_stride; ++i) {
      ASSERT_EQ(__bfloat162float(res_out[r * c.residual_stride + i]),
                res[r * c.residual_stride + i]);
    }
  }
  const std::vector<float> normed =
      Compact(FromBf16(dnormed.Download()), c.rows, c.dim, c.normed_stride);

  // normed: LayerNorm on the rounded residual, bit for bit.
  DeviceBuffer<Bf16> dwant(ToBf16(want)), dln(c.rows * c.dim);
  ASSERT_EQ(
      LayerNorm(dwant.get(), dw.get(), c.b ? db.get() : nullptr, dln.get(),
                {.rows = c.rows, .dim = c.dim, .x_stride = c.dim, .y_stride = c.dim, .eps = 1e-6f},
                nullptr),
      cudaSuccess);
  EXPECT_EQ(normed, FromBf16(dln.Download()));
  std::vector<float> ref(c.rows * c.dim);
  cpu::LayerNorm(
      want.data(), w.data(), c.b ? b.data() : nullptr, ref.data(),
      {.rows = c.rows, .dim = c.dim, .x_stride = c.dim, .y_stride = c.dim, .eps = 1e-6f});
  EXPECT_TRUE(ElementwiseClose(normed, ref, kBf16Rel, 1e-4));

  if (!c.bias) return;
  // The literal unfused sequence of the encoder block: Gemm's bias conversion, Add, LayerNorm.
  DeviceBuffer<float> dacc_rows(Compact(acc, c.rows, c.dim, c.acc_stride));
  DeviceBuffer<Bf16> dres2(ToBf16(res)), dt(c.rows * c.residual_stride), dnormed2(c.rows * c.dim);
  dt.Poison(0);
  ASSERT_EQ(detail::BiasConvertBf16(dacc_rows.get(), dbias.get(), dt.get(), c.rows, c.dim,
                                    c.residual_stride, nullptr),
            cudaSuccess);
  ASSERT_EQ(Add(dres2.get(), dt.get(), dres2.get(), c.rows * c.residual_stride, nullptr),
            cudaSuccess);
  ASSERT_EQ(LayerNorm(dres2.get(), dw.get(), c.b ? db.get() : nullptr, dnormed2.get(),
                      {.rows = c.rows,
                       .dim = c.dim,
                       .x_stride = c.residual_stride,
                       .y_stride = c.dim,
                       .eps = 1e-6f},
                      nullptr),
            cudaSuccess);
  EXPECT_EQ(Compact(FromBf16(dres2.Download()), c.rows, c.dim, c.residual_stride), residual);
  EXPECT_EQ(FromBf16(dnormed2.Download()), normed);
}

TEST_P(BiasResidualLayerNormTest, WithoutNormedUpdatesOnlyTheResidual) {
  const ResLnCase c = GetParam();
  const std::vector<float> acc = Normal(c.rows * c.acc_stride, 16, 2.0f);
  const std::vector<float> bias = RoundedBf16(Normal(c.dim, 17));
  const std::vector<float> res = RoundedBf16(Normal(c.rows * c.residual_stride, 18, 3.0f));
  DeviceBuffer<float> dacc(acc);
  DeviceBuffer<Bf16> dbias(ToBf16(bias)), dres(ToBf16(res));
  ASSERT_EQ(BiasResidualLayerNorm(dacc.get(), c.bias ? dbias.get() : nullptr, dres.get(), nullptr,
                                  nullptr, nullptr,
                                  {.rows = c.rows,
                                   .dim = c.dim,
                                   .acc_stride = c.acc_stride,
                                   .residual_stride = c.residual_stride},
                                  nullptr),
            cudaSuccess);
  const std::vector<float> got = FromBf16(dres.Download());
  for (int64_t r = 0; r < c.rows; ++r) {
    for (int64_t i = 0; i < c.dim; ++i) {
      const float p = acc[r * c.acc_stride + i];
      const float t = ::qwen::kernels::testing::RoundBf16(c.bias ? p + bias[i] : p);
      ASSERT_EQ(got[r * c.residual_stride + i],
                ::qwen::kernels::testing::RoundBf16(res[r * c.residual_stride + i] + t))
          << r << "," << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, BiasResidualLayerNormTest,
                         ::testing::Values(ResLnCase{4096, 1152, 1152, 1152, 1152, true,
                                                     true},  // 1024² image
                                           ResLnCase{1, 1152, 1152, 1152, 1152, true, true},
                                           ResLnCase{37, 1160, 1164, 1168, 1176, true, true},
                                           ResLnCase{3, 8, 12, 16, 8, true, true},
                                           ResLnCase{19, 72, 72, 80, 72, true, false},
                                           ResLnCase{5, 4096, 4100, 4096, 4104, true, true},
                                           ResLnCase{7, 2048, 2048, 2048, 2048, false, false}));

// ---------------------------------------------------------------------------------------------
// Bias + vision RoPE on the qkv product: the same bits as Gemm's bias conversion then
// ApplyVisionRope.

struct BiasRopeCase {
  int64_t head_dim, acc_pad;  // acc_pad % 4 != 0 takes the scalar kernel
  bool bias;
};
void PrintTo(const BiasRopeCase& c, std::ostream* os) {
  *os << "hd" << c.head_dim << "_pad" << c.acc_pad << (c.bias ? "_bias" : "");
}
class BiasVisionRopeTest : public CudaTestWithParam<BiasRopeCase> {};

TEST_P(BiasVisionRopeTest, EqualsBiasConvertThenApplyVisionRope) {
  const BiasRopeCase c = GetParam();
  const int64_t heads = 16, tokens = 37, dim = 3 * heads * c.head_dim;
  const int64_t acc_stride = dim + c.acc_pad, out_stride = dim + 8;
  const std::vector<float> acc = Uniform(tokens * acc_stride, 19, -3.0f, 3.0f);
  const std::vector<float> bias =
      c.bias ? RoundedBf16(Uniform(dim, 20, -3.0f, 3.0f)) : std::vector<float>(dim, 0.0f);
  std::vector<int64_t> rows(tokens), cols(tokens);
  for (int64_t t = 0; t < tokens; ++t) {
    rows[t] = (t * 7) % 61;
    cols[t] = (t * 13) % 97;
  }
  std::vector<float> ref(tokens * dim);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t i = 0; i < dim; ++i) {
      ref[t * dim + i] = ::qwen::kernels::testing::RoundBf16(acc[t * acc_stride + i] + bias[i]);
    }
  }
  cpu::ApplyVisionRope(ref.data(), rows.data(), cols.data(),
                       {.num_tokens = tokens,
                        .num_heads = 2 * heads,
                        .head_dim = c.head_dim,
                        .token_stride = dim,
                        .head_stride = c.head_dim,
                        .theta = 10000.0});
  DeviceBuffer<float> dacc(acc), dacc_rows(Compact(acc, tokens, dim, acc_stride));
  DeviceBuffer<Bf16> dbias(ToBf16(bias));
  DeviceBuffer<int64_t> dr(rows), dc(cols);
  DeviceBuffer<int32_t> dr32(std::vector<int32_t>(rows.begin(), rows.end()));
  DeviceBuffer<int32_t> dc32(std::vector<int32_t>(cols.begin(), cols.end()));
  const BiasVisionRopeParams p{.num_tokens = tokens,
                               .num_heads = 2 * heads,
                               .head_dim = c.head_dim,
                               .dim = dim,
                               .acc_stride = acc_stride,
                               .out_stride = out_stride,
                               .theta = 10000.0};
  // Unfused: the bf16-output GEMM's bias conversion, then RoPE on q and k in place.
  DeviceBuffer<Bf16> dwant(tokens * out_stride);
  dwant.Poison();
  ASSERT_EQ(detail::BiasConvertBf16(dacc_rows.get(), dbias.get(), dwant.get(), tokens, dim,
                                    out_stride, nullptr),
            cudaSuccess);
  ASSERT_EQ(ApplyVisionRope(dwant.get(), dr.get(), dc.get(),
                            {.num_tokens = tokens,
                             .num_heads = 2 * heads,
                             .head_dim = c.head_dim,
                             .token_stride = out_stride,
                             .head_stride = c.head_dim,
                             .theta = 10000.0},
                            nullptr),
            cudaSuccess);
  const std::vector<Bf16> want = dwant.Download();
  for (const bool i32 : {false, true}) {
    DeviceBuffer<Bf16> dout(tokens * out_stride);
    dout.Poison();
    const cudaError_t err = i32 ? BiasVisionRope(dacc.get(), c.bias ? dbias.get() : nullptr,
                                                 dout.get(), dr32.get(), dc32.get(), p, nullptr)
                                : BiasVisionRope(dacc.get(), c.bias ? dbias.get() : nullptr,
                                                 dout.get(), dr.get(), dc.get(), p, nullptr);
    ASSERT_EQ(err, cudaSuccess);
    const std::vector<Bf16> got = dout.Download();
    // Bit for bit, the row padding included (0xFFFF in both).
    ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(Bf16)), 0)
        << (i32 ? "int32" : "int64") << " positions";
    EXPECT_TRUE(
        ElementwiseClose(Compact(FromBf16(got), tokens, dim, out_stride), ref, kBf16Rel, 1e-5));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, BiasVisionRopeTest,
                         ::testing::Values(BiasRopeCase{72, 0, true},  // the shipped encoder
                                           BiasRopeCase{64, 4, true}, BiasRopeCase{80, 0, false},
                                           BiasRopeCase{72, 1, true},    // scalar: acc stride
                                           BiasRopeCase{12, 0, true}));  // scalar: head_dim

// ---------------------------------------------------------------------------------------------
// Bias + GELU

struct GeluCase {
  int64_t rows, cols, x_stride, out_stride;
  bool bias, erf, f32_input;
};
void PrintTo(const GeluCase& c, std::ostream* os) {
  *os << "R" << c.rows << "_C" << c.cols << "_xs" << c.x_stride << "_os" << c.out_stride
      << (c.bias ? "_bias" : "") << (c.erf ? "_erf" : "_tanh") << (c.f32_input ? "_f32" : "_bf16");
}
class BiasGeluTest : public CudaTestWithParam<GeluCase> {};

TEST_P(BiasGeluTest, MatchesCpu) {
  const GeluCase c = GetParam();
  std::vector<float> x = Normal(c.rows * c.x_stride, 4, 2.5f);
  if (!c.f32_input) x = RoundedBf16(x);
  const std::vector<float> b = RoundedBf16(Normal(c.cols, 5, 0.5f));
  std::vector<float> ref(c.rows * c.cols);
  for (int64_t r = 0; r < c.rows; ++r) {
    std::vector<float> s(c.cols);
    for (int64_t i = 0; i < c.cols; ++i)
      s[i] = c.bias ? x[r * c.x_stride + i] + b[i] : x[r * c.x_stride + i];
    if (c.erf) {
      cpu::GeluErf(s.data(), ref.data() + r * c.cols, c.cols);
    } else {
      cpu::GeluTanh(s.data(), ref.data() + r * c.cols, c.cols);
    }
  }
  const BiasGeluParams p{.rows = c.rows,
                         .cols = c.cols,
                         .x_stride = c.x_stride,
                         .out_stride = c.out_stride,
                         .kind = c.erf ? GeluKind::kErf : GeluKind::kTanh};
  DeviceBuffer<Bf16> db(ToBf16(b)), dout(c.rows * c.out_stride);
  dout.Poison();
  if (c.f32_input) {
    DeviceBuffer<float> dx(x);
    ASSERT_EQ(BiasGelu(dx.get(), c.bias ? db.get() : nullptr, dout.get(), p, nullptr), cudaSuccess);
  } else {
    DeviceBuffer<Bf16> dx(ToBf16(x));
    ASSERT_EQ(BiasGelu(dx.get(), c.bias ? db.get() : nullptr, dout.get(), p, nullptr), cudaSuccess);
    // In place gives the same bits.
    BiasGeluParams pi = p;
    pi.out_stride = c.x_stride;
    ASSERT_EQ(BiasGelu(dx.get(), c.bias ? db.get() : nullptr, dx.get(), pi, nullptr), cudaSuccess);
    EXPECT_EQ(Compact(FromBf16(dx.Download()), c.rows, c.cols, c.x_stride),
              Compact(FromBf16(dout.Download()), c.rows, c.cols, c.out_stride));
  }
  const std::vector<float> got = Compact(FromBf16(dout.Download()), c.rows, c.cols, c.out_stride);
  EXPECT_TRUE(ElementwiseClose(got, ref, kBf16Rel, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BiasGeluTest,
    ::testing::Values(GeluCase{19, 4304, 4304, 4304, true, false, false},  // ViT fc1, vector path
                      GeluCase{19, 4304, 4304, 4304, true, false, true},   // fused after fp32 GEMM
                      GeluCase{5, 4608, 4608, 4608, true, true, false},    // merger: exact erf
                      GeluCase{5, 4608, 4608, 4608, false, true, true},
                      GeluCase{3, 37, 40, 45, true, false, false},  // scalar path
                      GeluCase{3, 37, 37, 37, true, true, true}));

// ---------------------------------------------------------------------------------------------
// Vision RoPE

class VisionRopeTest : public CudaTestWithParam<int64_t> {};

TEST_P(VisionRopeTest, MatchesCpuOnQkvLayout) {
  const int64_t head_dim = GetParam(), heads = 16, tokens = 37;
  const int64_t token_stride = 3 * heads * head_dim;  // q inside the [N, 3 * Hvis] qkv rows
  const std::vector<float> x = RoundedBf16(Uniform(tokens * token_stride, 6, -2.0f, 2.0f));
  std::vector<int64_t> rows(tokens), cols(tokens);
  for (int64_t t = 0; t < tokens; ++t) {
    rows[t] = (t * 7) % 61;  // up to a 61-patch-high image
    cols[t] = (t * 13) % 97;
  }
  std::vector<float> ref = x;
  cpu::ApplyVisionRope(ref.data(), rows.data(), cols.data(),
                       {.num_tokens = tokens,
                        .num_heads = heads,
                        .head_dim = head_dim,
                        .token_stride = token_stride,
                        .head_stride = head_dim,
                        .theta = 10000.0});
  const VisionRopeParams p{.num_tokens = tokens,
                           .num_heads = heads,
                           .head_dim = head_dim,
                           .token_stride = token_stride,
                           .head_stride = head_dim,
                           .theta = 10000.0};
  {
    DeviceBuffer<Bf16> dx(ToBf16(x));
    DeviceBuffer<int64_t> dr(rows), dc(cols);
    ASSERT_EQ(ApplyVisionRope(dx.get(), dr.get(), dc.get(), p, nullptr), cudaSuccess);
    EXPECT_TRUE(ElementwiseClose(FromBf16(dx.Download()), ref, kBf16Rel, 1e-5));
  }
  {
    DeviceBuffer<Bf16> dx(ToBf16(x));
    DeviceBuffer<int32_t> dr(std::vector<int32_t>(rows.begin(), rows.end()));
    DeviceBuffer<int32_t> dc(std::vector<int32_t>(cols.begin(), cols.end()));
    ASSERT_EQ(ApplyVisionRope(dx.get(), dr.get(), dc.get(), p, nullptr), cudaSuccess);
    EXPECT_TRUE(ElementwiseClose(FromBf16(dx.Download()), ref, kBf16Rel, 1e-5));
  }
}

INSTANTIATE_TEST_SUITE_P(HeadDims, VisionRopeTest, ::testing::Values(64, 72, 80));

// ---------------------------------------------------------------------------------------------
// Bilinear position embedding

struct PosCase {
  int64_t h, w, m, frames;
  bool residual;
};
void PrintTo(const PosCase& c, std::ostream* os) {
  *os << c.h << "x" << c.w << "_m" << c.m << "_t" << c.frames << (c.residual ? "_res" : "");
}
class VisionPosEmbedTest : public CudaTestWithParam<PosCase> {};

TEST_P(VisionPosEmbedTest, MatchesCpu) {
  const PosCase c = GetParam();
  const int64_t side = 48, dim = 136, stride = 144;
  const int64_t hw = c.h * c.w, rows = c.frames * hw;
  const std::vector<float> table = RoundedBf16(Normal(side * side * dim, 7));
  const std::vector<float> res = RoundedBf16(Normal(rows * stride, 8, 2.0f));
  std::vector<float> pe(hw * dim);
  cpu::BilinearPosEmbed(table.data(), pe.data(),
                        {.side = side, .dim = dim, .height = c.h, .width = c.w, .merge_size = c.m});
  std::vector<float> ref(rows * dim);
  for (int64_t n = 0; n < rows; ++n) {
    for (int64_t i = 0; i < dim; ++i) {
      const float e = pe[(n % hw) * dim + i];
      ref[n * dim + i] = c.residual ? res[n * stride + i] + e : e;
    }
  }
  DeviceBuffer<Bf16> dt(ToBf16(table)), dres(ToBf16(res)), dout(rows * stride);
  dout.Poison();
  const VisionPosEmbedParams p{.side = side,
                               .dim = dim,
                               .height = c.h,
                               .width = c.w,
                               .merge_size = c.m,
                               .num_frames = c.frames,
                               .residual_stride = stride,
                               .out_stride = stride};
  ASSERT_EQ(VisionPosEmbed(dt.get(), c.residual ? dres.get() : nullptr, dout.get(), p, nullptr),
            cudaSuccess);
  EXPECT_TRUE(
      ElementwiseClose(Compact(FromBf16(dout.Download()), rows, dim, stride), ref, kBf16Rel, 1e-5));
  if (c.residual) {  // in place on the residual stream
    ASSERT_EQ(VisionPosEmbed(dt.get(), dres.get(), dres.get(), p, nullptr), cudaSuccess);
    EXPECT_EQ(Compact(FromBf16(dres.Download()), rows, dim, stride),
              Compact(FromBf16(dout.Download()), rows, dim, stride));
  }
}

INSTANTIATE_TEST_SUITE_P(Grids, VisionPosEmbedTest,
                         ::testing::Values(PosCase{16, 24, 2, 1, true}, PosCase{1, 1, 1, 1, false},
                                           PosCase{2, 46, 2, 2, true}, PosCase{7, 5, 1, 1, false},
                                           PosCase{64, 2, 2, 3, true}));

// ---------------------------------------------------------------------------------------------
// Segment attention

struct SegCase {
  std::vector<int64_t> lengths;
  int64_t heads, head_dim;
};
void PrintTo(const SegCase& c, std::ostream* os) {
  *os << "segs";
  for (int64_t n : c.lengths) *os << "_" << n;
  *os << "_H" << c.heads << "_D" << c.head_dim;
}
class SegmentAttentionTest : public CudaTestWithParam<SegCase> {};

// Runs `kernel` on the case and checks it against the CPU reference; writes into the output's row
// padding and unwritten elements fail.
void CheckSegmentAttention(const SegCase& c, SegmentAttentionKernel kernel) {
  SCOPED_TRACE(SegmentAttentionKernelName(kernel));
  int64_t n = 0;
  for (int64_t l : c.lengths) n += l;
  const int64_t hd = c.heads * c.head_dim, qkv_stride = 3 * hd, out_stride = hd + 8;
  std::vector<float> qkv = RoundedBf16(Normal(n * qkv_stride, 9));
  for (int64_t t = 0; t < n; ++t) {  // v uniform in [-1, 1] (the tolerance's max|v|)
    const std::vector<float> v = RoundedBf16(Uniform(hd, 100 + static_cast<uint32_t>(t)));
    std::copy(v.begin(), v.end(), qkv.begin() + t * qkv_stride + 2 * hd);
  }
  std::vector<int32_t> cu = ::qwen::kernels::testing::CuSeqlens(c.lengths);
  std::vector<int64_t> cu64(cu.begin(), cu.end());
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  std::vector<float> ref(n * hd);
  cpu::SegmentAttention(qkv.data(), qkv.data() + hd, qkv.data() + 2 * hd, cu64.data(), ref.data(),
                        {.num_segments = static_cast<int64_t>(c.lengths.size()),
                         .num_heads = c.heads,
                         .head_dim = c.head_dim,
                         .q_stride = qkv_stride,
                         .kv_stride = qkv_stride,
                         .out_stride = hd,
                         .scale = scale});
  DeviceBuffer<Bf16> dqkv(ToBf16(qkv)), dout(n * out_stride);
  DeviceBuffer<int32_t> dcu(cu);
  dout.Poison();
  const SegmentAttentionParams p{.num_tokens = n,
                                 .num_segments = static_cast<int64_t>(c.lengths.size()),
                                 .num_heads = c.heads,
                                 .head_dim = c.head_dim,
                                 .q_stride = qkv_stride,
                                 .kv_stride = qkv_stride,
                                 .out_stride = out_stride,
                                 .scale = scale,
                                 .kernel = kernel};
  ASSERT_EQ(SegmentAttention(dqkv.get(), dqkv.get() + hd, dqkv.get() + 2 * hd, dcu.get(),
                             dout.get(), p, nullptr),
            cudaSuccess);
  const std::vector<Bf16> raw = dout.Download();
  const std::vector<float> got = FromBf16(raw);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t e = 0; e < out_stride; ++e) {
      if (e >= hd) {
        uint16_t bits;
        std::memcpy(&bits, &raw[t * out_stride + e], 2);
        ASSERT_EQ(bits, 0xFFFF) << "write into the row padding at token " << t;
        continue;
      }
      const float g = got[t * out_stride + e], r = ref[t * hd + e];
      ASSERT_TRUE(std::isfinite(g)) << "token " << t << " element " << e << " not written";
      ASSERT_LE(std::abs(g - r), 1e-2 * std::abs(r) + 2.5e-3)
          << "token " << t << " head " << e / c.head_dim << " dim " << e % c.head_dim;
    }
  }
}

TEST_P(SegmentAttentionTest, MatchesCpuOnQkvLayout) {
  CheckSegmentAttention(GetParam(), SegmentAttentionKernel::kAuto);
}

TEST_P(SegmentAttentionTest, MmaSyncKernelMatchesCpu) {
  CheckSegmentAttention(GetParam(), SegmentAttentionKernel::kMmaSync);
}

// The wgmma kernel where it runs (compute capability 9.0, head dims <= 72); elsewhere forcing it
// must fail cleanly rather than launch sm_90a code.
TEST_P(SegmentAttentionTest, WgmmaKernelMatchesCpuOrIsRefused) {
  const SegCase c = GetParam();
  int device = 0, major = 0, minor = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device), cudaSuccess);
  if (SegmentAttentionKernelFor(major, minor, c.head_dim) == SegmentAttentionKernel::kWgmma) {
    CheckSegmentAttention(c, SegmentAttentionKernel::kWgmma);
    return;
  }
  DeviceBuffer<Bf16> buf(1 << 12);
  DeviceBuffer<int32_t> cu(std::vector<int32_t>{0, 4});
  const int64_t hd = c.heads * c.head_dim;
  EXPECT_EQ(SegmentAttention(buf.get(), buf.get(), buf.get(), cu.get(), buf.get(),
                             {.num_tokens = 4,
                              .num_segments = 1,
                              .num_heads = c.heads,
                              .head_dim = c.head_dim,
                              .q_stride = 3 * hd,
                              .kv_stride = 3 * hd,
                              .out_stride = hd,
                              .scale = 0.1f,
                              .kernel = SegmentAttentionKernel::kWgmma},
                             nullptr),
            cudaErrorNotSupported);
}

TEST(SegmentAttentionKernelTest, AutoPicksWgmmaOnHopperForSmallHeadDims) {
  EXPECT_EQ(SegmentAttentionKernelFor(9, 0, 72), SegmentAttentionKernel::kWgmma);
  EXPECT_EQ(SegmentAttentionKernelFor(9, 0, 64), SegmentAttentionKernel::kWgmma);
  EXPECT_EQ(SegmentAttentionKernelFor(9, 0, 80), SegmentAttentionKernel::kMmaSync);
  EXPECT_EQ(SegmentAttentionKernelFor(12, 1, 72), SegmentAttentionKernel::kMmaSync);  // GB10
  EXPECT_EQ(SegmentAttentionKernelFor(10, 0, 72), SegmentAttentionKernel::kMmaSync);
  EXPECT_STREQ(SegmentAttentionKernelName(SegmentAttentionKernel::kWgmma), "wgmma");
}

INSTANTIATE_TEST_SUITE_P(
    Segments, SegmentAttentionTest,
    ::testing::Values(SegCase{{1, 17, 64, 65, 300, 0, 5}, 4, 72},  // 9B head dim (pads to 80)
                      SegCase{{1000, 129, 63}, 2, 72},  // several query tiles, partial key tiles
                      SegCase{{256, 256, 3}, 16, 64},   // 2B/4B head dim
                      SegCase{{70, 3, 200}, 3, 16},     // dims past the head zero-padded to 64
                      SegCase{{130, 1}, 2, 80}, SegCase{{97}, 3, 128}));

TEST_F(CudaTest, VisionOpsRejectBadArguments) {
  DeviceBuffer<Bf16> buf(1 << 16);
  DeviceBuffer<float> f(1 << 16);
  DeviceBuffer<int32_t> idx(64);
  ASSERT_EQ(cudaMemset(idx.get(), 0, 64 * sizeof(int32_t)), cudaSuccess);
  ASSERT_EQ(cudaMemset(f.get(), 0, (1 << 16) * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemset(buf.get(), 0, (1 << 16) * sizeof(Bf16)), cudaSuccess);
  EXPECT_EQ(LayerNorm(buf.get(), buf.get(), nullptr, buf.get(),
                      {.rows = 2, .dim = 8, .x_stride = 4, .y_stride = 8}, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(BiasGelu(buf.get(), nullptr, buf.get(),
                     {.rows = 2, .cols = 8, .x_stride = 8, .out_stride = 7}, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(
      ApplyVisionRope(
          buf.get(), idx.get(), idx.get(),
          {.num_tokens = 2, .num_heads = 1, .head_dim = 70, .token_stride = 70, .head_stride = 70},
          nullptr),
      cudaErrorInvalidValue)
      << "head dim not a multiple of 4";
  // bias, w, b at the start of buf; residual and normed further on (the largest case is 2 rows of
  // 4104).
  Bf16* const residual = buf.get() + (1 << 14);
  Bf16* const normed = buf.get() + (1 << 15);
  const BiasResidualLayerNormParams ln{
      .rows = 2, .dim = 64, .acc_stride = 64, .residual_stride = 64, .normed_stride = 64};
  auto res_ln = [&](const BiasResidualLayerNormParams& p, Bf16* res) {
    return BiasResidualLayerNorm(f.get(), buf.get(), res, buf.get() + 64, buf.get() + 128, normed,
                                 p, nullptr);
  };
  EXPECT_EQ(res_ln(ln, residual), cudaSuccess);
  BiasResidualLayerNormParams bad = ln;
  bad.dim = 60;
  EXPECT_EQ(res_ln(bad, residual), cudaErrorInvalidValue) << "dim % 8 != 0";
  bad = ln;
  bad.dim = bad.acc_stride = bad.residual_stride = bad.normed_stride = kFusedLayerNormMaxDim + 8;
  EXPECT_EQ(res_ln(bad, residual), cudaErrorInvalidValue) << "dim too wide";
  bad = ln;
  bad.acc_stride = 66;
  EXPECT_EQ(res_ln(bad, residual), cudaErrorInvalidValue) << "acc stride % 4 != 0";
  bad = ln;
  bad.normed_stride = 32;
  EXPECT_EQ(res_ln(bad, residual), cudaErrorInvalidValue) << "normed stride < dim";
  EXPECT_EQ(res_ln(ln, residual + 1), cudaErrorInvalidValue) << "residual not 16-byte aligned";
  EXPECT_EQ(
      BiasResidualLayerNorm(f.get(), nullptr, residual, nullptr, nullptr, normed, ln, nullptr),
      cudaErrorInvalidValue)
      << "normed without LayerNorm weights";
  EXPECT_EQ(
      BiasResidualLayerNorm(nullptr, nullptr, residual, nullptr, nullptr, nullptr, ln, nullptr),
      cudaErrorInvalidValue)
      << "null acc";
  const BiasVisionRopeParams rope{.num_tokens = 2,
                                  .num_heads = 2,
                                  .head_dim = 72,
                                  .dim = 216,
                                  .acc_stride = 216,
                                  .out_stride = 216};
  EXPECT_EQ(BiasVisionRope(f.get(), buf.get(), residual, idx.get(), idx.get(), rope, nullptr),
            cudaSuccess);
  BiasVisionRopeParams bad_rope = rope;
  bad_rope.head_dim = 70;
  EXPECT_EQ(BiasVisionRope(f.get(), buf.get(), residual, idx.get(), idx.get(), bad_rope, nullptr),
            cudaErrorInvalidValue)
      << "head dim not a multiple of 4";
  bad_rope = rope;
  bad_rope.dim = 140;
  EXPECT_EQ(BiasVisionRope(f.get(), buf.get(), residual, idx.get(), idx.get(), bad_rope, nullptr),
            cudaErrorInvalidValue)
      << "rotated heads wider than the row";
  bad_rope = rope;
  bad_rope.out_stride = 200;
  EXPECT_EQ(BiasVisionRope(f.get(), buf.get(), residual, idx.get(), idx.get(), bad_rope, nullptr),
            cudaErrorInvalidValue)
      << "out stride < dim";
  EXPECT_EQ(BiasVisionRope(f.get(), buf.get(), residual, static_cast<const int32_t*>(nullptr),
                           idx.get(), rope, nullptr),
            cudaErrorInvalidValue)
      << "null positions";
  EXPECT_EQ(VisionPosEmbed(
                buf.get(), nullptr, buf.get(),
                {.side = 48, .dim = 8, .height = 3, .width = 4, .merge_size = 2, .out_stride = 8},
                nullptr),
            cudaErrorInvalidValue)
      << "height not a multiple of the merge size";
  EXPECT_EQ(SegmentAttention(buf.get(), buf.get(), buf.get(), idx.get(), buf.get(),
                             {.num_tokens = 4,
                              .num_segments = 1,
                              .num_heads = 1,
                              .head_dim = 36,
                              .q_stride = 40,
                              .kv_stride = 40,
                              .out_stride = 40,
                              .scale = 0.1f},
                             nullptr),
            cudaErrorInvalidValue)
      << "head dim not a multiple of 8";
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

}  // namespace
}  // namespace qwen::kernels::cuda

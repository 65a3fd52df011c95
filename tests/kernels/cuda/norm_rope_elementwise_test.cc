// RMSNorm variants, M-RoPE and element-wise CUDA ops against the CPU references on the same
// bf16-rounded inputs. bf16 outputs: the reference's fp32 value rounded once is within 2^-9
// relative, so |got - ref| <= 1e-2 |ref| + a small absolute floor (fp32 differences of values near
// zero); fp32 outputs: 1e-5 relative.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <vector>

#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/rope.h"
#include "kernels/elementwise.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"
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
using ::qwen::kernels::testing::RoundBf16;
using ::qwen::kernels::testing::RoundedBf16;
using ::qwen::kernels::testing::ToBf16;
using ::qwen::kernels::testing::Uniform;

constexpr double kBf16Rel = 1e-2;
constexpr double kF32Rel = 1e-5;

// ---------------------------------------------------------------------------------------------
// RmsNorm: plain [T, H] rows and per-head q_norm inside the [T, Hq, 2D] q|gate layout.

struct NormCase {
  int64_t tokens, heads, dim, x_head_stride, x_token_stride;
};
void PrintTo(const NormCase& c, std::ostream* os) {
  *os << "T" << c.tokens << "_H" << c.heads << "_dim" << c.dim << "_hs" << c.x_head_stride << "_ts"
      << c.x_token_stride;
}
class RmsNormTest : public CudaTestWithParam<NormCase> {};

TEST_P(RmsNormTest, MatchesCpuPerRow) {
  const NormCase c = GetParam();
  const int64_t size = (c.tokens - 1) * c.x_token_stride + (c.heads - 1) * c.x_head_stride + c.dim;
  const std::vector<float> x = RoundedBf16(Normal(size, 1, 3.0f));
  const std::vector<float> w = RoundedBf16(Normal(c.dim, 2, 0.1f));
  DeviceBuffer<Bf16> dx(ToBf16(x)), dw(ToBf16(w));
  for (const float offset : {1.0f, 0.0f}) {
    // Out of place into a contiguous [T, heads, dim] y, and in place (y = x, same strides).
    DeviceBuffer<Bf16> dy(c.tokens * c.heads * c.dim);
    dy.Poison();
    RmsNormParams p{.num_tokens = c.tokens,
                    .num_heads = c.heads,
                    .dim = c.dim,
                    .x_token_stride = c.x_token_stride,
                    .x_head_stride = c.x_head_stride,
                    .y_token_stride = c.heads * c.dim,
                    .y_head_stride = c.dim,
                    .eps = 1e-6f,
                    .weight_offset = offset};
    ASSERT_EQ(RmsNorm(dx.get(), dw.get(), dy.get(), p, nullptr), cudaSuccess);
    const std::vector<float> y = FromBf16(dy.Download());
    std::vector<float> ref(c.tokens * c.heads * c.dim);
    for (int64_t t = 0; t < c.tokens; ++t) {
      cpu::RmsNorm(x.data() + t * c.x_token_stride, w.data(), ref.data() + t * c.heads * c.dim,
                   {.rows = c.heads,
                    .dim = c.dim,
                    .x_stride = c.x_head_stride,
                    .y_stride = c.dim,
                    .eps = 1e-6f,
                    .weight_offset = offset});
    }
    EXPECT_TRUE(ElementwiseClose(y, ref, kBf16Rel, 1e-6)) << "offset " << offset;

    DeviceBuffer<Bf16> dxi(ToBf16(x));
    p.y_token_stride = c.x_token_stride;
    p.y_head_stride = c.x_head_stride;
    ASSERT_EQ(RmsNorm(dxi.get(), dw.get(), dxi.get(), p, nullptr), cudaSuccess);
    const std::vector<float> xi = FromBf16(dxi.Download());
    std::vector<bool> is_row(size, false);
    for (int64_t t = 0; t < c.tokens; ++t) {
      for (int64_t h = 0; h < c.heads; ++h) {
        for (int64_t i = 0; i < c.dim; ++i) {
          const int64_t e = t * c.x_token_stride + h * c.x_head_stride + i;
          is_row[e] = true;
          ASSERT_EQ(xi[e], y[(t * c.heads + h) * c.dim + i]) << "in place differs at " << e;
        }
      }
    }
    for (int64_t e = 0; e < size; ++e) {
      if (!is_row[e]) {
        ASSERT_EQ(xi[e], x[e]) << "element outside the rows changed: " << e;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RmsNormTest,
    ::testing::Values(NormCase{1, 1, 4096, 4096, 4096},    // hidden norm, block per row
                      NormCase{19, 1, 1000, 1000, 1003},   // warp per row, scalar path
                      NormCase{111, 1, 2560, 2560, 2560},  // block per row, vector path
                      NormCase{19, 3, 256, 512, 3 * 512},  // q_norm in [T, Hq, 2D]
                      NormCase{111, 2, 128, 128, 256},     // k_norm, D = 128
                      NormCase{3, 2, 259, 300, 700}));     // odd dim

TEST_F(CudaTest, AddRmsNormKeepsBf16ResidualAndNormalisesIt) {
  for (const int64_t dim : {int64_t{1024}, int64_t{5120}, int64_t{100}}) {
    const int64_t tokens = 19, stride = dim + 8;
    const std::vector<float> x = RoundedBf16(Normal(tokens * stride, 3, 2.0f));
    const std::vector<float> r0 = RoundedBf16(Normal(tokens * stride, 4, 5.0f));
    const std::vector<float> w = RoundedBf16(Normal(dim, 5, 0.1f));
    DeviceBuffer<Bf16> dx(ToBf16(x)), dr(ToBf16(r0)), dw(ToBf16(w)), dy(tokens * dim);
    dy.Poison();
    ASSERT_EQ(AddRmsNorm(dx.get(), dr.get(), dw.get(), dy.get(),
                         {.num_tokens = tokens,
                          .dim = dim,
                          .x_stride = stride,
                          .residual_stride = stride,
                          .y_stride = dim},
                         nullptr),
              cudaSuccess);
    const std::vector<float> r = FromBf16(dr.Download());
    const std::vector<float> y = FromBf16(dy.Download());
    std::vector<float> r_want = r0, ref(tokens * dim);
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t i = 0; i < dim; ++i) {
        r_want[t * stride + i] = RoundBf16(r0[t * stride + i] + x[t * stride + i]);
      }
    }
    EXPECT_EQ(r, r_want) << "residual must be bf16(residual + x) exactly (dim " << dim << ")";
    cpu::RmsNorm(r_want.data(), w.data(), ref.data(),
                 {.rows = tokens,
                  .dim = dim,
                  .x_stride = stride,
                  .y_stride = dim,
                  .eps = 1e-6f,
                  .weight_offset = 1.0f});
    EXPECT_TRUE(ElementwiseClose(y, ref, kBf16Rel, 1e-6)) << "dim " << dim;
  }
}

TEST_F(CudaTest, GatedRmsNormMatchesCpu) {
  for (const int64_t dv : {int64_t{128}, int64_t{48}, int64_t{33}}) {
    const int64_t tokens = 19, heads = 3;
    const std::vector<float> x = Normal(tokens * heads * dv, 6, 2.0f);  // f32 input
    const std::vector<float> z = RoundedBf16(Normal(tokens * heads * dv, 7, 3.0f));
    const std::vector<float> w = RoundedBf16(Uniform(dv, 8, 0.5f, 1.5f));
    DeviceBuffer<float> dx(x);
    DeviceBuffer<Bf16> dz(ToBf16(z)), dw(ToBf16(w)), dy(tokens * heads * dv);
    dy.Poison();
    const int64_t ts = heads * dv;
    ASSERT_EQ(GatedRmsNorm(dx.get(), dz.get(), dw.get(), dy.get(),
                           {.num_tokens = tokens,
                            .num_heads = heads,
                            .dim = dv,
                            .x_token_stride = ts,
                            .x_head_stride = dv,
                            .z_token_stride = ts,
                            .z_head_stride = dv,
                            .y_token_stride = ts,
                            .y_head_stride = dv,
                            .eps = 1e-6f},
                           nullptr),
              cudaSuccess);
    std::vector<float> ref(x.size());
    cpu::GatedRmsNorm(x.data(), z.data(), w.data(), ref.data(), tokens * heads, dv, 1e-6f);
    EXPECT_TRUE(ElementwiseClose(FromBf16(dy.Download()), ref, kBf16Rel, 1e-6)) << "dv " << dv;
  }
}

TEST_F(CudaTest, L2NormHeadsMatchesCpu) {
  for (const int64_t dk : {int64_t{128}, int64_t{256}, int64_t{30}}) {
    const int64_t tokens = 111, heads = 3, stride = 2 * heads * dk + 64 + (dk % 4 ? 1 : 0);
    const std::vector<float> x0 = Normal(tokens * stride, 9, 0.7f);
    const float scale = 1.0f / std::sqrt(static_cast<float>(dk));
    DeviceBuffer<float> dx(x0);
    ASSERT_EQ(L2NormHeads(dx.get(),
                          {.num_tokens = tokens,
                           .num_heads = heads,
                           .dim = dk,
                           .token_stride = stride,
                           .eps = 1e-6f,
                           .scale = scale},
                          nullptr),
              cudaSuccess);
    std::vector<float> ref = x0;
    cpu::L2NormHeads(ref.data(), tokens, heads, dk, stride, 1e-6f, scale);
    EXPECT_TRUE(ElementwiseClose(dx.Download(), ref, kF32Rel, 1e-12)) << "dk " << dk;
  }
}

// ---------------------------------------------------------------------------------------------
// M-RoPE

template <class Pos>
void CheckMRope(int64_t tokens, int64_t heads, int64_t head_dim, int64_t tstride, int64_t hstride) {
  const int64_t size = (tokens - 1) * tstride + (heads - 1) * hstride + head_dim;
  const std::vector<float> x0 = RoundedBf16(Uniform(size, 42, -2.0f, 2.0f));
  std::vector<int64_t> pos64(3 * tokens);
  for (int64_t i = 0; i < 3 * tokens; ++i) pos64[i] = (i * 7919 + 13) % 40000;
  const std::array<int, 3> section = {11, 11, 10};
  std::vector<float> ref = x0;
  cpu::ApplyMRope(ref.data(), pos64.data(),
                  {.num_tokens = tokens,
                   .num_heads = heads,
                   .head_dim = head_dim,
                   .rotary_dim = 64,
                   .token_stride = tstride,
                   .head_stride = hstride,
                   .theta = 1e7,
                   .mrope_section = section});
  const std::vector<Pos> pos(pos64.begin(), pos64.end());
  DeviceBuffer<Pos> dpos(pos);
  DeviceBuffer<Bf16> dx(ToBf16(x0));
  ASSERT_EQ(ApplyMRope(dx.get(), dpos.get(),
                       {.num_tokens = tokens,
                        .num_heads = heads,
                        .head_dim = head_dim,
                        .rotary_dim = 64,
                        .token_stride = tstride,
                        .head_stride = hstride,
                        .theta = 1e7,
                        .mrope_section = section},
                       nullptr),
            cudaSuccess);
  const std::vector<float> x = FromBf16(dx.Download());
  // Rotated values: bf16 of the fp32 reference (plus device cos/sin ulps at angles up to 4e4).
  EXPECT_TRUE(ElementwiseClose(x, ref, kBf16Rel, 1e-3));
  // Dims >= R and everything between heads/tokens are bit-for-bit unchanged.
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 64; i < head_dim; ++i) {
        const int64_t e = t * tstride + h * hstride + i;
        ASSERT_EQ(x[e], x0[e]) << "pass-through dim changed at " << e;
      }
    }
  }
}

TEST_F(CudaTest, MRopeInt64PositionsOnQInsideQGate) {
  CheckMRope<int64_t>(19, 3, 256, 3 * 512, 512);  // q heads inside [T, Hq, 2D]
  CheckMRope<int64_t>(1, 16, 256, 16 * 512, 512);
}

TEST_F(CudaTest, MRopeInt32PositionsOnK) {
  CheckMRope<int32_t>(111, 2, 256, 2 * 256, 256);  // k [T, Hkv, D]
  CheckMRope<int32_t>(19, 1, 128, 128, 128);
}

// ---------------------------------------------------------------------------------------------
// Element-wise

TEST_F(CudaTest, SiluMulStridedAndAliased) {
  for (const int64_t cols : {int64_t{3584}, int64_t{37}}) {
    const int64_t rows = 19, stride = 2 * cols;  // gate | up halves of one fused row
    std::vector<float> gu = RoundedBf16(Normal(rows * stride, 1, 4.0f));
    gu[0] = -200.0f;  // silu must be -0, not NaN
    gu[1] = 200.0f;
    DeviceBuffer<Bf16> dgu(ToBf16(gu)), dout(rows * cols);
    ASSERT_EQ(SiluMul(dgu.get(), stride, dgu.get() + cols, stride, dout.get(), cols,
                      {.rows = rows, .cols = cols}, nullptr),
              cudaSuccess);
    std::vector<float> ref(rows * cols);
    for (int64_t r = 0; r < rows; ++r) {
      cpu::SiluMul(gu.data() + r * stride, gu.data() + r * stride + cols, ref.data() + r * cols,
                   cols);
    }
    const std::vector<float> out = FromBf16(dout.Download());
    EXPECT_TRUE(ElementwiseClose(out, ref, kBf16Rel, 1e-6)) << "cols " << cols;
    // In place over the gate half.
    ASSERT_EQ(SiluMul(dgu.get(), stride, dgu.get() + cols, stride, dgu.get(), stride,
                      {.rows = rows, .cols = cols}, nullptr),
              cudaSuccess);
    const std::vector<float> gu2 = FromBf16(dgu.Download());
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(gu2[r * stride + c], out[r * cols + c]);
    }
  }
}

TEST_F(CudaTest, MulSigmoidReadsTheGateInPlaceFromQGate) {
  const int64_t tokens = 19, heads = 3, d = 256;
  const std::vector<float> x0 = RoundedBf16(Normal(tokens * heads * d, 3));
  const std::vector<float> qg = RoundedBf16(Normal(tokens * heads * 2 * d, 4, 5.0f));
  DeviceBuffer<Bf16> dx(ToBf16(x0)), dqg(ToBf16(qg));
  ASSERT_EQ(
      MulSigmoid(dx.get(), d, dqg.get() + d, 2 * d, {.rows = tokens * heads, .cols = d}, nullptr),
      cudaSuccess);
  std::vector<float> ref = x0, gate(tokens * heads * d);
  for (int64_t r = 0; r < tokens * heads; ++r) {
    std::copy(qg.begin() + r * 2 * d + d, qg.begin() + (r + 1) * 2 * d, gate.begin() + r * d);
  }
  cpu::MulSigmoid(ref.data(), gate.data(), static_cast<int64_t>(ref.size()));
  EXPECT_TRUE(ElementwiseClose(FromBf16(dx.Download()), ref, kBf16Rel, 1e-6));
}

TEST_F(CudaTest, AddRoundsOnce) {
  for (const int64_t n : {int64_t{4096 * 19}, int64_t{111}}) {
    const std::vector<float> a = RoundedBf16(Normal(n, 5)), b = RoundedBf16(Normal(n, 6));
    DeviceBuffer<Bf16> da(ToBf16(a)), db(ToBf16(b)), dout(n);
    ASSERT_EQ(Add(da.get(), db.get(), dout.get(), n, nullptr), cudaSuccess);
    std::vector<float> ref(n);
    cpu::Add(a.data(), b.data(), ref.data(), n);
    for (float& v : ref) v = RoundBf16(v);
    EXPECT_EQ(FromBf16(dout.Download()), ref);
    ASSERT_EQ(Add(da.get(), db.get(), da.get(), n, nullptr), cudaSuccess);  // out aliases a
    EXPECT_EQ(FromBf16(da.Download()), ref);
  }
}

template <class Id>
void CheckEmbedding(int64_t dim) {
  const int64_t vocab = 50, tokens = 19, inject_rows = 4;
  const std::vector<float> table = RoundedBf16(Normal(vocab * dim, 7));
  const std::vector<float> inj = RoundedBf16(Normal(inject_rows * dim, 8));
  std::vector<int64_t> ids64(tokens);
  for (int64_t t = 0; t < tokens; ++t) ids64[t] = (t * 17 + 3) % vocab;
  std::vector<int32_t> inject_index(tokens, -1);
  inject_index[2] = 0;
  inject_index[3] = 1;
  inject_index[4] = 2;
  inject_index[18] = 3;
  const std::vector<Id> ids(ids64.begin(), ids64.end());
  DeviceBuffer<Bf16> dtable(ToBf16(table)), dinj(ToBf16(inj)), dout(tokens * dim);
  DeviceBuffer<Id> dids(ids);
  DeviceBuffer<int32_t> dindex(inject_index);
  const EmbeddingGatherParams p{.num_tokens = tokens,
                                .dim = dim,
                                .vocab_size = vocab,
                                .out_stride = dim,
                                .inject_stride = dim};
  // Without injection: exactly the CPU gather.
  dout.Poison();
  ASSERT_EQ(EmbeddingGather(dtable.get(), dids.get(), nullptr, nullptr, dout.get(), p, nullptr),
            cudaSuccess);
  std::vector<float> ref(tokens * dim);
  cpu::EmbeddingGather(table.data(), ids64.data(), ref.data(), tokens, dim);
  EXPECT_EQ(FromBf16(dout.Download()), ref);
  // With injected rows.
  dout.Poison();
  ASSERT_EQ(
      EmbeddingGather(dtable.get(), dids.get(), dinj.get(), dindex.get(), dout.get(), p, nullptr),
      cudaSuccess);
  for (int64_t t = 0; t < tokens; ++t) {
    if (inject_index[t] >= 0) {
      std::copy(inj.begin() + inject_index[t] * dim, inj.begin() + (inject_index[t] + 1) * dim,
                ref.begin() + t * dim);
    }
  }
  EXPECT_EQ(FromBf16(dout.Download()), ref);
}

TEST_F(CudaTest, EmbeddingGatherWithInjectedRows) {
  CheckEmbedding<int32_t>(1024);
  CheckEmbedding<int64_t>(1024);
  CheckEmbedding<int64_t>(37);
}

TEST_F(CudaTest, EmbeddingGatherOutOfRangeIdGivesZeroRow) {
  const int64_t dim = 16;
  const std::vector<float> table = RoundedBf16(Normal(4 * dim, 9));
  DeviceBuffer<Bf16> dtable(ToBf16(table)), dout(2 * dim);
  DeviceBuffer<int64_t> dids(std::vector<int64_t>{4, -1});
  ASSERT_EQ(
      EmbeddingGather(dtable.get(), dids.get(), nullptr, nullptr, dout.get(),
                      {.num_tokens = 2, .dim = dim, .vocab_size = 4, .out_stride = dim}, nullptr),
      cudaSuccess);
  EXPECT_EQ(FromBf16(dout.Download()), std::vector<float>(2 * dim, 0.0f));
}

TEST_F(CudaTest, SplitQGateIsExact) {
  for (const int64_t d : {int64_t{256}, int64_t{20}}) {
    const int64_t tokens = 19, heads = 3;
    const std::vector<float> qg = RoundedBf16(Normal(tokens * heads * 2 * d, 10));
    DeviceBuffer<Bf16> dqg(ToBf16(qg)), dq(tokens * heads * d), dg(tokens * heads * d);
    ASSERT_EQ(SplitQGate(dqg.get(), dq.get(), dg.get(),
                         {.num_tokens = tokens,
                          .num_heads = heads,
                          .head_dim = d,
                          .qg_stride = heads * 2 * d,
                          .q_stride = heads * d,
                          .gate_stride = heads * d},
                         nullptr),
              cudaSuccess);
    const std::vector<float> q = FromBf16(dq.Download()), g = FromBf16(dg.Download());
    for (int64_t r = 0; r < tokens * heads; ++r) {
      for (int64_t i = 0; i < d; ++i) {
        ASSERT_EQ(q[r * d + i], qg[r * 2 * d + i]);
        ASSERT_EQ(g[r * d + i], qg[r * 2 * d + d + i]);
      }
    }
  }
}

}  // namespace
}  // namespace qwen::kernels::cuda

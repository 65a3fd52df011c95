// CPU emulation of the host/device code of the paged-attention, vision and sampling kernels
// (kernels/cuda/detail/{paged_kv_core,vision_core,sampling_core}.h), without a GPU:
//   * the block programs (KV append, LayerNorm, bias + GELU, vision RoPE alone and fused with the
//     qkv bias, position embedding) run block by block with HostBlock, items forward and
//     reversed, against the CPU references;
//   * the helpers of the attention kernels (page addressing, the decode split of a context over a
//     cluster, the merge of per-split softmax states) against direct computations;
//   * the bias + bf16 conversion of the bf16-output GEMM with a bias (gemm_bias.h) against fp32
//     acc + bias rounded once, into a strided slice;
//   * the sampler's pieces (Philox4x32-10, the order keys, the penalty arithmetic, the top-p /
//     min-p cut of the sorted top-k, the Gumbel-max draw) against the CPU sampler
//     (text_service/engine/sampler.cc) and the exact softmax.
// The warp-level parts of those kernels (tensor-core tiles, shuffles, ballots, clusters) run only
// in the GPU tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "kernels/cuda/detail/gemm_bias.h"
#include "kernels/cuda/detail/paged_kv_core.h"
#include "kernels/cuda/detail/sampling_core.h"
#include "kernels/cuda/detail/vision_core.h"
#include "kernels/gelu.h"
#include "kernels/layer_norm.h"
#include "kernels/vision_pos_embed.h"
#include "kernels/vision_rope.h"
#include "tests/kernels/cuda/gdn_test_data.h"
#include "tests/kernels/test_util.h"
#include "text_service/engine/sampler.h"

namespace qwen::kernels::cuda::detail {
namespace {

using ::qwen::kernels::testing::ElementwiseClose;
using ::qwen::kernels::testing::FromBf16;
using ::qwen::kernels::testing::Normal;
using ::qwen::kernels::testing::RoundBf16;
using ::qwen::kernels::testing::RoundedBf16;
using ::qwen::kernels::testing::ToBf16;
using ::qwen::kernels::testing::Uniform;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// GEMM bias + bf16 conversion (detail/gemm_bias.h)

TEST(GemmBiasEmulationTest, AddsBiasInFp32AndRoundsOnceIntoTheSlice) {
  for (const int64_t n : {int64_t{1}, int64_t{8}, int64_t{19}, int64_t{256}, int64_t{300}}) {
    for (const bool reverse : {false, true}) {
      const int64_t m = 7, ldy = n + 11, off = 5;
      // fp32 products (not bf16-representable) and bf16 biases of the same size, so that
      // acc + bias often cancels: rounding acc to bf16 first would show.
      const std::vector<float> acc = Uniform(m * n, 40 + static_cast<uint32_t>(n));
      const std::vector<float> b = RoundedBf16(Uniform(n, 41 + static_cast<uint32_t>(n)));
      const std::vector<__nv_bfloat16> bb = ToBf16(b);
      std::vector<__nv_bfloat16> y(m * ldy + off, __float2bfloat16(kNaN));
      BiasConvertArgs a;
      a.acc = acc.data();
      a.bias = bb.data();
      a.y = y.data() + off;
      a.m = m;
      a.n = n;
      a.ldy = ldy;
      for (int64_t row = 0; row < m; ++row) BiasConvertRow(HostBlock{reverse}, a, row);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < ldy; ++j) {
          const float got = __bfloat162float(y[off + i * ldy + j]);
          if (j >= n) {
            ASSERT_TRUE(std::isnan(got)) << "write outside the slice at " << i << "," << j;
            continue;
          }
          const float sum = acc[i * n + j] + b[j];  // fp32, as the kernel
          ASSERT_EQ(got, RoundBf16(sum)) << "n " << n << " at " << i << "," << j;
          // One rounding: within 2^-8 relative of the exact sum (the fp32 add is ~2^-24).
          const double exact = static_cast<double>(acc[i * n + j]) + b[j];
          ASSERT_LE(std::abs(got - exact), std::ldexp(std::abs(exact), -8) + 1e-7 * std::abs(exact))
              << "n " << n << " at " << i << "," << j;
        }
      }
      EXPECT_TRUE(std::isnan(__bfloat162float(y[0])));  // before the first row
    }
  }
}

TEST(GemmBiasEmulationTest, OneRoundingBeatsRoundingTheProductFirst) {
  // acc = 1 + 2^-9 + 2^-12 (between bf16 neighbours 1 and 1 + 2^-7, nearer 1), bias = -0.5:
  // rounding acc first gives bf16(1 - 0.5) = 0.5 (error 2^-9 + 2^-12 against an exact
  // 0.5 + 2^-9 + 2^-12, above one rounding's 2^-8 * 0.5); one rounding gives 0.5 + 2^-8.
  const float acc = 1.0f + std::ldexp(1.0f, -9) + std::ldexp(1.0f, -12);
  const __nv_bfloat16 bias = __float2bfloat16(-0.5f);
  const double exact = static_cast<double>(acc) - 0.5;
  const float once = __bfloat162float(BiasConvertElem(acc, bias));
  EXPECT_EQ(once, 0.5f + std::ldexp(1.0f, -8));
  EXPECT_LE(std::abs(once - exact), std::ldexp(exact, -8));
  const float twice = RoundBf16(RoundBf16(acc) - 0.5f);
  EXPECT_GT(std::abs(twice - exact), std::ldexp(exact, -8));
}

// ---------------------------------------------------------------------------------------------
// Paged KV helpers

TEST(PagedKvEmulationTest, AppendWritesEveryNewTokenToItsPageOnly) {
  const std::vector<int64_t> cached = {0, 5, 15, 33}, news = {3, 17, 1, 0};
  const int64_t hkv = 2, d = 24, page = 8, bt_stride = 8, num_pages = 20;
  const int64_t kv_stride = hkv * d + 8;
  std::vector<int32_t> cu = ::qwen::kernels::testing::CuSeqlens(news);
  const int64_t n = cu.back();
  std::vector<int32_t> cached32(cached.begin(), cached.end());
  // Sequence s uses pages 19 - s, 19 - s - 4, ... (scattered, descending).
  std::vector<int32_t> table(cached.size() * bt_stride, -1);
  for (size_t s = 0; s < cached.size(); ++s) {
    for (int64_t p = 0; p < (cached[s] + news[s] + page - 1) / page; ++p) {
      table[s * bt_stride + p] = static_cast<int32_t>(19 - s - 4 * p);
    }
  }
  const std::vector<float> k = RoundedBf16(Normal(n * kv_stride, 1));
  const std::vector<float> v = RoundedBf16(Normal(n * kv_stride, 2));
  const std::vector<float> pool0 = RoundedBf16(Normal(num_pages * page * hkv * d, 3));
  std::vector<float> want_k = pool0, want_v = pool0;
  for (size_t s = 0; s < cached.size(); ++s) {
    for (int64_t i = 0; i < news[s]; ++i) {
      const int64_t pos = cached[s] + i, t = cu[s] + i;
      const int64_t pg = table[s * bt_stride + pos / page];
      for (int64_t g = 0; g < hkv; ++g) {
        for (int64_t e = 0; e < d; ++e) {
          const int64_t dst = ((pg * page + pos % page) * hkv + g) * d + e;
          ASSERT_EQ(PagedKvOffset(table.data() + s * bt_stride, pos, 3, hkv, g, d) + e, dst);
          want_k[dst] = k[t * kv_stride + g * d + e];
          want_v[dst] = v[t * kv_stride + g * d + e];
        }
      }
    }
  }
  const std::vector<__nv_bfloat16> kb = ToBf16(k), vb = ToBf16(v);
  for (const bool reverse : {false, true}) {
    std::vector<__nv_bfloat16> pk = ToBf16(pool0), pv = ToBf16(pool0);
    KvAppendArgs a;
    a.k = kb.data();
    a.v = vb.data();
    a.cu_seqlens = cu.data();
    a.cached_lens = cached32.data();
    a.block_table = table.data();
    a.k_pages = pk.data();
    a.v_pages = pv.data();
    a.num_tokens = n;
    a.num_seqs = static_cast<int>(cached.size());
    a.num_heads_kv = hkv;
    a.head_dim = d;
    a.log2_page = Log2Exact(page);
    a.bt_stride = bt_stride;
    a.k_stride = kv_stride;
    a.v_stride = kv_stride;
    const int64_t blocks8 = CeilDiv<int64_t>(KvAppendItems<8>(a), kAppendThreads);
    for (int64_t b = 0; b < blocks8; ++b) KvAppendBlock<8>(HostBlock{reverse}, b, a);
    EXPECT_EQ(FromBf16(pk), want_k);
    EXPECT_EQ(FromBf16(pv), want_v);
    pk = ToBf16(pool0);
    pv = ToBf16(pool0);
    a.k_pages = pk.data();
    a.v_pages = pv.data();
    const int64_t blocks1 = CeilDiv<int64_t>(KvAppendItems<1>(a), kAppendThreads);
    for (int64_t b = 0; b < blocks1; ++b) KvAppendBlock<1>(HostBlock{reverse}, b, a);
    EXPECT_EQ(FromBf16(pk), want_k);
    EXPECT_EQ(FromBf16(pv), want_v);
  }
}

TEST(PagedKvEmulationTest, Log2ExactAcceptsPowersOfTwoOnly) {
  EXPECT_EQ(Log2Exact(8), 3);
  EXPECT_EQ(Log2Exact(16), 4);
  EXPECT_EQ(Log2Exact(1024), 10);
  EXPECT_EQ(Log2Exact(12), -1);
  EXPECT_EQ(Log2Exact(0), -1);
  EXPECT_EQ(SeqOfFlatToken(std::vector<int32_t>{0, 3, 3, 7}.data(), 3, 3), 2);  // skips empty
}

TEST(PagedKvEmulationTest, DecodeSplitsPartitionTheContextInWholeTiles) {
  for (int64_t kv_len = 1; kv_len <= 700; kv_len += 7) {
    for (const int splits : {1, 2, 4, 8}) {
      int64_t expect_begin = 0;
      for (int r = 0; r < splits; ++r) {
        int64_t b, e;
        DecodeSplitRange(kv_len, splits, r, 32, &b, &e);
        ASSERT_EQ(b, expect_begin) << kv_len << " " << splits << " " << r;
        ASSERT_LE(b, e);
        ASSERT_TRUE(b == kv_len || b % 32 == 0);
        expect_begin = e;
      }
      ASSERT_EQ(expect_begin, kv_len);
      int64_t b0, e0;
      DecodeSplitRange(kv_len, splits, 0, 32, &b0, &e0);
      ASSERT_GT(e0, b0) << "split 0 is never empty";
    }
  }
}

TEST(PagedKvEmulationTest, MergedSplitStatesEqualTheDirectSoftmax) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 50; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 300);
    const int splits = 1 << (rng() % 4);
    const std::vector<float> s = Normal(n, 10 + trial, 4.0f);  // log2-domain scores
    const std::vector<float> v = Uniform(n, 100 + trial);
    double num = 0, den = 0, mx = -INFINITY;
    for (int j = 0; j < n; ++j) mx = std::max(mx, static_cast<double>(s[j]));
    for (int j = 0; j < n; ++j) {
      num += std::exp2(s[j] - mx) * v[j];
      den += std::exp2(s[j] - mx);
    }
    std::vector<float> m(splits), l(splits), acc(splits);
    for (int r = 0; r < splits; ++r) {
      int64_t b, e;
      DecodeSplitRange(n, splits, r, 32, &b, &e);
      m[r] = -INFINITY;
      for (int64_t j = b; j < e; ++j) m[r] = std::max(m[r], s[j]);
      l[r] = 0.0f;
      acc[r] = 0.0f;
      for (int64_t j = b; j < e; ++j) {
        l[r] += std::exp2f(s[j] - m[r]);
        acc[r] += std::exp2f(s[j] - m[r]) * v[j];
      }
    }
    EXPECT_NEAR(MergeSoftmaxStates(m.data(), l.data(), acc.data(), 1, splits), num / den, 1e-5)
        << "n " << n << " splits " << splits;
  }
}

// ---------------------------------------------------------------------------------------------
// Vision block programs

TEST(VisionEmulationTest, LayerNormMatchesCpu) {
  for (const int64_t dim : {int64_t{1152}, int64_t{37}, int64_t{300}}) {
    const int64_t rows = 5, xs = dim + 3, ys = dim + 1;
    std::vector<float> x = Normal(rows * xs, 4, 2.0f);
    for (float& e : x) e += 3.0f;
    x = RoundedBf16(x);
    const std::vector<float> w = RoundedBf16(Normal(dim, 5)), b = RoundedBf16(Normal(dim, 6));
    std::vector<float> ref(rows * dim);
    cpu::LayerNorm(x.data(), w.data(), b.data(), ref.data(),
                   {.rows = rows, .dim = dim, .x_stride = xs, .y_stride = dim, .eps = 1e-6f});
    const std::vector<__nv_bfloat16> xb = ToBf16(x), wb = ToBf16(w), bb = ToBf16(b);
    std::vector<std::vector<float>> outs;
    for (const bool reverse : {false, true}) {
      std::vector<__nv_bfloat16> y(rows * ys, __float2bfloat16(kNaN));
      LayerNormArgs a;
      a.x = xb.data();
      a.w = wb.data();
      a.b = bb.data();
      a.y = y.data();
      a.rows = rows;
      a.dim = static_cast<int>(dim);
      a.x_stride = xs;
      a.y_stride = ys;
      std::vector<float> smem(kLnSmemFloats);
      for (int64_t r = 0; r < rows; ++r) {
        std::fill(smem.begin(), smem.end(), kNaN);
        LayerNormBlock(HostBlock{reverse}, r, a, smem.data());
      }
      std::vector<float> got(rows * dim);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < dim; ++i) got[r * dim + i] = __bfloat162float(y[r * ys + i]);
      }
      // The tree sum rounds differently from the reference's 8 lanes: one bf16 ulp at most.
      EXPECT_TRUE(ElementwiseClose(got, ref, 1e-2, 1e-6)) << "dim " << dim;
      outs.push_back(got);
    }
    EXPECT_EQ(outs[0], outs[1]) << "forward and reverse item orders differ";
  }
}

template <int V, class T>
void CheckGelu(bool erf, bool bias) {
  const int64_t rows = 3, cols = 64, xs = 72, os = 80;
  std::vector<float> xf = Normal(rows * xs, 7, 3.0f);
  if (sizeof(T) == 2) xf = RoundedBf16(xf);
  const std::vector<float> b = RoundedBf16(Normal(cols, 8));
  std::vector<T> x(xf.size());
  for (size_t i = 0; i < xf.size(); ++i) {
    if constexpr (sizeof(T) == 2) {
      x[i] = __float2bfloat16(xf[i]);
    } else {
      x[i] = xf[i];
    }
  }
  const std::vector<__nv_bfloat16> bb = ToBf16(b);
  std::vector<__nv_bfloat16> out(rows * os, __float2bfloat16(kNaN));
  GeluArgs<T> a;
  a.x = x.data();
  a.bias = bias ? bb.data() : nullptr;
  a.out = out.data();
  a.rows = rows;
  a.cols = cols;
  a.x_stride = xs;
  a.out_stride = os;
  a.erf = erf;
  for (int64_t blk = 0; blk < GeluBlocks<V>(a); ++blk) BiasGeluBlock<V>(HostBlock{true}, blk, a);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> s(cols), ref(cols);
    for (int64_t i = 0; i < cols; ++i) s[i] = bias ? xf[r * xs + i] + b[i] : xf[r * xs + i];
    if (erf) {
      cpu::GeluErf(s.data(), ref.data(), cols);
    } else {
      cpu::GeluTanh(s.data(), ref.data(), cols);
    }
    for (int64_t i = 0; i < cols; ++i) {
      // Same fp32 operations as the reference, one rounding.
      ASSERT_EQ(__bfloat162float(out[r * os + i]), RoundBf16(ref[i]))
          << "V " << V << " erf " << erf << " bias " << bias << " at " << r << "," << i;
    }
  }
}

TEST(VisionEmulationTest, BiasGeluMatchesCpuThenBf16) {
  for (const bool erf : {false, true}) {
    for (const bool bias : {false, true}) {
      CheckGelu<1, __nv_bfloat16>(erf, bias);
      CheckGelu<8, __nv_bfloat16>(erf, bias);
      CheckGelu<1, float>(erf, bias);
      CheckGelu<4, float>(erf, bias);
    }
  }
}

TEST(VisionEmulationTest, VisionRopeMatchesCpuThenBf16) {
  for (const int64_t hd : {int64_t{64}, int64_t{72}, int64_t{80}}) {
    const int64_t tokens = 9, heads = 3, ts = 3 * heads * hd + 8, hs = hd;
    const std::vector<float> x0 = RoundedBf16(Uniform(tokens * ts, 9, -2.0f, 2.0f));
    std::vector<int64_t> rows(tokens), cols(tokens);
    for (int64_t t = 0; t < tokens; ++t) {
      rows[t] = t * 5 % 23;
      cols[t] = t * 11 % 31;
    }
    std::vector<float> ref = x0;
    cpu::ApplyVisionRope(ref.data(), rows.data(), cols.data(),
                         {.num_tokens = tokens,
                          .num_heads = heads,
                          .head_dim = hd,
                          .token_stride = ts,
                          .head_stride = hs,
                          .theta = 10000.0});
    std::vector<__nv_bfloat16> x = ToBf16(x0);
    VisionRopeArgs<int64_t> a;
    a.x = x.data();
    a.rows = rows.data();
    a.cols = cols.data();
    a.num_tokens = tokens;
    a.num_heads = static_cast<int>(heads);
    a.head_dim = static_cast<int>(hd);
    a.token_stride = ts;
    a.head_stride = hs;
    const VisionRopeTable tab = MakeVisionRopeTable(10000.0, static_cast<int>(hd));
    std::vector<float> smem(VisionRopeSmemFloats(static_cast<int>(hd)));
    for (int64_t t = 0; t < tokens; ++t) {
      std::fill(smem.begin(), smem.end(), kNaN);
      VisionRopeBlock<int64_t>(HostBlock{t % 2 == 1}, t, a, tab, smem.data());
    }
    for (size_t i = 0; i < x0.size(); ++i) {
      ASSERT_EQ(__bfloat162float(x[i]), RoundBf16(ref[i])) << "hd " << hd << " element " << i;
    }
  }
}

// acc + bias rounded once, then the CPU RoPE on the rounded q and k heads and one more rounding;
// v only rounded; nothing outside [tokens, dim] of the strided output written.
template <int V, class Pos>
void CheckBiasVisionRope(int64_t hd, bool bias) {
  const int64_t tokens = 9, heads = 3, rotated = 2 * heads, dim = 3 * heads * hd;
  const int64_t as = dim + 12, os = dim + 8;
  // Products near the bias in size, so that acc + bias often cancels (rounding acc first would
  // show), at the magnitudes of real q and k.
  const std::vector<float> acc = Uniform(tokens * as, 20 + static_cast<uint32_t>(hd), -3.0f, 3.0f);
  const std::vector<float> b =
      RoundedBf16(Uniform(dim, 21 + static_cast<uint32_t>(hd), -3.0f, 3.0f));
  std::vector<Pos> rows(tokens), cols(tokens);
  std::vector<int64_t> rows64(tokens), cols64(tokens);
  for (int64_t t = 0; t < tokens; ++t) {
    rows64[t] = t * 5 % 23;
    cols64[t] = t * 11 % 31;
    rows[t] = static_cast<Pos>(rows64[t]);
    cols[t] = static_cast<Pos>(cols64[t]);
  }
  std::vector<float> ref(tokens * dim);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t i = 0; i < dim; ++i) {
      ref[t * dim + i] = RoundBf16(bias ? acc[t * as + i] + b[i] : acc[t * as + i]);
    }
  }
  cpu::ApplyVisionRope(ref.data(), rows64.data(), cols64.data(),
                       {.num_tokens = tokens,
                        .num_heads = rotated,
                        .head_dim = hd,
                        .token_stride = dim,
                        .head_stride = hd,
                        .theta = 10000.0});
  const std::vector<__nv_bfloat16> bb = ToBf16(b);
  std::vector<__nv_bfloat16> out(tokens * os + 3, __float2bfloat16(kNaN));
  BiasVisionRopeArgs<Pos> a;
  a.acc = acc.data();
  a.bias = bias ? bb.data() : nullptr;
  a.out = out.data();
  a.rows = rows.data();
  a.cols = cols.data();
  a.num_tokens = tokens;
  a.num_heads = static_cast<int>(rotated);
  a.head_dim = static_cast<int>(hd);
  a.dim = static_cast<int>(dim);
  a.acc_stride = as;
  a.out_stride = os;
  const VisionRopeTable tab = MakeVisionRopeTable(10000.0, static_cast<int>(hd));
  std::vector<float> smem(VisionRopeSmemFloats(static_cast<int>(hd)));
  for (int64_t t = 0; t < tokens; ++t) {
    std::fill(smem.begin(), smem.end(), kNaN);
    BiasVisionRopeBlock<V, Pos>(HostBlock{t % 2 == 1}, t, a, tab, smem.data());
  }
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t i = 0; i < os; ++i) {
      const float got = __bfloat162float(out[t * os + i]);
      if (i >= dim) {
        ASSERT_TRUE(std::isnan(got)) << "write into the row padding at " << t << "," << i;
        continue;
      }
      ASSERT_EQ(got, RoundBf16(ref[t * dim + i]))
          << "V " << V << " hd " << hd << " bias " << bias << " token " << t << " column " << i;
    }
  }
}

TEST(VisionEmulationTest, BiasVisionRopeMatchesBiasRoundThenCpuRope) {
  for (const int64_t hd : {int64_t{64}, int64_t{72}, int64_t{80}}) {
    for (const bool bias : {true, false}) {
      CheckBiasVisionRope<4, int32_t>(hd, bias);
      CheckBiasVisionRope<1, int64_t>(hd, bias);
    }
  }
  CheckBiasVisionRope<1, int32_t>(12, true);  // head_dim % 8 != 0: the scalar program only
}

TEST(VisionEmulationTest, PosEmbedMatchesCpuThenBf16) {
  struct G {
    int64_t h, w, m, frames;
  };
  for (const G g : {G{4, 6, 2, 2}, G{1, 1, 1, 1}, G{2, 10, 2, 1}, G{5, 3, 1, 1}}) {
    const int64_t side = 8, dim = 12, hw = g.h * g.w, rows = g.frames * hw;
    const std::vector<float> table = RoundedBf16(Normal(side * side * dim, 10));
    const std::vector<float> res = RoundedBf16(Normal(rows * dim, 11));
    std::vector<float> pe(hw * dim);
    cpu::BilinearPosEmbed(
        table.data(), pe.data(),
        {.side = side, .dim = dim, .height = g.h, .width = g.w, .merge_size = g.m});
    const std::vector<__nv_bfloat16> tb = ToBf16(table), rb = ToBf16(res);
    for (const bool with_res : {false, true}) {
      std::vector<__nv_bfloat16> out(rows * dim, __float2bfloat16(kNaN));
      PosEmbedArgs a;
      a.table = tb.data();
      a.residual = with_res ? rb.data() : nullptr;
      a.out = out.data();
      a.side = side;
      a.dim = static_cast<int>(dim);
      a.height = g.h;
      a.width = g.w;
      a.merge = g.m;
      a.frames = g.frames;
      a.residual_stride = dim;
      a.out_stride = dim;
      for (int64_t r = 0; r < rows; ++r) PosEmbedBlock(HostBlock{r % 2 == 0}, r, a);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < dim; ++i) {
          const float e = pe[(r % hw) * dim + i];
          const float want = RoundBf16(with_res ? res[r * dim + i] + e : e);
          ASSERT_EQ(__bfloat162float(out[r * dim + i]), want) << g.h << "x" << g.w << " row " << r;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sampler pieces

TEST(SamplingEmulationTest, PhiloxKnownAnswer) {
  // Random123's known-answer vector for philox4x32-10 with a zero counter and key.
  const Philox4 r = Philox4x32_10(Philox4{{0, 0, 0, 0}}, 0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
}

TEST(SamplingEmulationTest, KeysFollowTheCpuSamplerOrder) {
  std::vector<float> v = {-INFINITY, -1e30f, -2.5f, -1e-40f, -0.0f,   0.0f,
                          1e-40f,    1e-3f,  7.0f,  3e38f,   INFINITY};
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    if (v[i] == v[i + 1]) {
      EXPECT_EQ(OrderKey(v[i]), OrderKey(v[i + 1])) << "-0 and +0 tie";
    } else {
      EXPECT_LT(OrderKey(v[i]), OrderKey(v[i + 1])) << v[i] << " vs " << v[i + 1];
    }
    EXPECT_EQ(OrderKeyValue(OrderKey(v[i])), v[i] == 0.0f ? 0.0f : v[i]);
  }
  EXPECT_EQ(OrderKey(std::numeric_limits<float>::quiet_NaN()), OrderKey(-INFINITY));
  // Higher value first, then lower index first; exact round trip.
  EXPECT_GT(TokenKey(1.0f, 7), TokenKey(1.0f, 8));
  EXPECT_GT(TokenKey(1.0f, 900), TokenKey(0.5f, 1));
  EXPECT_EQ(TokenKeyIndex(TokenKey(-3.25f, 248319)), 248319u);
  EXPECT_EQ(TokenKeyValue(TokenKey(-3.25f, 248319)), -3.25f);
  for (const uint32_t bits : {0u, 1u, 0x80000000u, 0xffffffffu}) {
    const float g = GumbelFromBits(bits);
    EXPECT_TRUE(std::isfinite(g)) << bits;
    EXPECT_GT(g, -3.0f);
    EXPECT_LT(g, 17.0f);
  }
}

TEST(SamplingEmulationTest, PenalisedLogitMatchesTheCpuSamplerViaGreedy) {
  // For every penalty setting: the CPU sampler's greedy pick equals the argmax of the logits
  // after PenalisedLogit on the history's tokens.
  std::mt19937 rng(12);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t vocab = 50;
    std::vector<float> l = Normal(vocab, 200 + trial, 2.0f);
    std::vector<int64_t> prompt, generated;
    for (int i = 0; i < 5; ++i) prompt.push_back(rng() % 12);
    for (int i = 0; i < 6; ++i) generated.push_back(rng() % 12);
    text::SamplingParams p;
    p.temperature = 0.0;
    p.repetition_penalty = 0.8 + 0.1 * (trial % 7);
    p.presence_penalty = -1.0 + 0.5 * (trial % 5);
    p.frequency_penalty = -0.6 + 0.3 * (trial % 4);
    text::SamplerRng srng(1);
    std::vector<float> scratch;
    const int64_t want = text::Sample(l, p, prompt, generated, srng, scratch).token;
    std::map<int64_t, int32_t> counts;
    for (int64_t t : prompt) counts.emplace(t, 0);
    for (int64_t t : generated) ++counts[t];
    std::vector<float> y = l;
    for (const auto& [t, c] : counts) {
      y[t] = PenalisedLogit(l[t], c, p.repetition_penalty, p.presence_penalty, p.frequency_penalty);
    }
    uint64_t best = 0;
    for (int64_t t = 0; t < vocab; ++t) best = std::max(best, TokenKey(y[t], t));
    EXPECT_EQ(TokenKeyIndex(best), want) << "trial " << trial;
  }
}

// The kept set of the sorted top-k candidates (KeptOfSortedCandidates) contains every token the
// CPU sampler draws, and the Gumbel-max draw over it reproduces the renormalised softmax.
TEST(SamplingEmulationTest, SmallTopKPathMatchesCpuSamplerAndSoftmax) {
  struct Cfg {
    double temperature, top_p, min_p;
    int64_t top_k;
  };
  const int64_t vocab = 40;
  std::vector<float> logits = Normal(vocab, 77, 1.5f);
  logits[3] = logits[9];  // a tie
  for (const Cfg c : {Cfg{1.0, 1.0, 0.0, 8}, Cfg{0.7, 0.8, 0.0, 20}, Cfg{1.3, 0.9, 0.1, 32},
                      Cfg{1.0, 0.5, 0.5, 6}}) {
    std::vector<float> y(vocab);
    const float inv_t = static_cast<float>(1.0 / c.temperature);
    for (int64_t t = 0; t < vocab; ++t) y[t] = logits[t] * inv_t;
    std::vector<uint64_t> keys(vocab);
    for (int64_t t = 0; t < vocab; ++t) keys[t] = TokenKey(y[t], t);
    std::sort(keys.rbegin(), keys.rend());
    std::vector<float> vals(c.top_k);
    for (int64_t i = 0; i < c.top_k; ++i) vals[i] = TokenKeyValue(keys[i]);
    const int kept =
        KeptOfSortedCandidates(vals.data(), static_cast<int>(c.top_k), c.top_p, c.min_p);
    ASSERT_GE(kept, 1);
    std::set<int64_t> kept_set;
    for (int i = 0; i < kept; ++i) kept_set.insert(TokenKeyIndex(keys[i]));
    // CPU sampler draws.
    text::SamplingParams p;
    p.temperature = c.temperature;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    p.top_k = c.top_k;
    std::set<int64_t> cpu_drawn;
    std::vector<float> scratch;
    for (uint64_t s = 0; s < 4000; ++s) {
      text::SamplerRng rng(s);
      cpu_drawn.insert(text::Sample(logits, p, {}, {}, rng, scratch).token);
    }
    EXPECT_EQ(cpu_drawn, kept_set) << "top_k " << c.top_k << " top_p " << c.top_p;
    // Gumbel-max over the kept candidates with the kernel's random bits, 20000 steps.
    std::map<int64_t, int> freq;
    for (uint64_t step = 0; step < 20000; ++step) {
      uint64_t best = 0;
      for (int i = 0; i < kept; ++i) {
        const uint32_t t = TokenKeyIndex(keys[i]);
        best = std::max(best, TokenKey(vals[i] + GumbelFromBits(SampleBits(42, step, t)), t));
      }
      ++freq[TokenKeyIndex(best)];
    }
    double sum = 0;
    for (int i = 0; i < kept; ++i) sum += std::exp(static_cast<double>(vals[i] - vals[0]));
    for (int i = 0; i < kept; ++i) {
      const double want = std::exp(static_cast<double>(vals[i] - vals[0])) / sum;
      EXPECT_NEAR(freq[TokenKeyIndex(keys[i])] / 20000.0, want, 0.015) << "candidate " << i;
    }
  }
}

}  // namespace
}  // namespace qwen::kernels::cuda::detail

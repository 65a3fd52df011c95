// Paged KV append and paged attention (kernels/cuda/paged_attention.h) against the CPU reference
// CausalAttention (kernels/attention.h) run per sequence on the same bf16-rounded inputs, over
// scattered pages, page boundaries, GQA groups 1..16 (incl. non powers of two), the q|gate layout,
// decode batches of 1, 7 and 64 sequences (incl. cluster splits with empty splits) and varlen
// prefill batches with cached prefixes.
//
// Tolerance: the decode keeps p in fp32; the prefill rounds p to bf16 for the tensor cores
// (relative 2^-9 per weight: at most 2^-9 max|v| on the output); both round the output once
// (2^-9 |out|). So |got - ref| <= 1e-2 |ref| + 2.5e-3 max|v| (max|v| = 1 here) per element.
#include "kernels/cuda/paged_attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "tests/kernels/cuda/cuda_test_util.h"
#include "tests/kernels/cuda/gdn_test_data.h"
#include "tests/kernels/test_util.h"

namespace qwen::kernels::cuda {
namespace {

using ::qwen::kernels::testing::Bf16;
using ::qwen::kernels::testing::CudaTest;
using ::qwen::kernels::testing::CudaTestWithParam;
using ::qwen::kernels::testing::DeviceBuffer;
using ::qwen::kernels::testing::FromBf16;
using ::qwen::kernels::testing::Normal;
using ::qwen::kernels::testing::RoundedBf16;
using ::qwen::kernels::testing::ToBf16;
using ::qwen::kernels::testing::Uniform;

constexpr double kRel = 1e-2;
constexpr double kAbs = 2.5e-3;

struct PagedCase {
  std::vector<int64_t> cached;  // tokens already in the cache, per sequence
  std::vector<int64_t> news;    // new tokens, per sequence
  int64_t hq, hkv, d, page;
  bool qgate = false;       // q inside the per-head [q | gate] layout (q_head_stride = 2D)
  int64_t table_width = 0;  // block-table row width in pages (0: just enough)
};
void PrintTo(const PagedCase& c, std::ostream* os) {
  *os << "S" << c.news.size() << "_Hq" << c.hq << "_Hkv" << c.hkv << "_D" << c.d << "_pg" << c.page
      << (c.qgate ? "_qgate" : "") << "_bt" << c.table_width;
}

struct PagedData {
  PagedCase c;
  int64_t S = 0, N = 0, max_q = 0, bt_stride = 0, num_pages = 0;
  int64_t q_stride = 0, q_head_stride = 0, kv_stride = 0, out_stride = 0;
  std::vector<int32_t> cu, cached, block_table;
  std::vector<float> k_pool, v_pool;  // initial pools [num_pages, page, Hkv, D]
  std::vector<float> k_new, v_new;    // [N, kv_stride]
  std::vector<float> q;               // [N, q_stride]

  int64_t PoolIndex(int64_t s, int64_t pos, int64_t g) const {
    const int64_t page = block_table[s * bt_stride + pos / c.page];
    return ((page * c.page + pos % c.page) * c.hkv + g) * c.d;
  }
};

PagedData MakePagedData(const PagedCase& c, uint32_t seed) {
  PagedData d;
  d.c = c;
  d.S = static_cast<int64_t>(c.news.size());
  std::vector<int64_t> pages_needed(d.S);
  int64_t max_pages = 1;
  for (int64_t s = 0; s < d.S; ++s) {
    d.N += c.news[s];
    d.max_q = std::max(d.max_q, c.news[s]);
    pages_needed[s] = (c.cached[s] + c.news[s] + c.page - 1) / c.page;
    max_pages = std::max(max_pages, pages_needed[s]);
  }
  d.bt_stride = std::max(max_pages, c.table_width);
  d.num_pages = std::accumulate(pages_needed.begin(), pages_needed.end(), int64_t{0}) + 7;
  std::vector<int32_t> ids(d.num_pages);
  std::iota(ids.begin(), ids.end(), 0);
  std::mt19937 rng(seed);
  std::shuffle(ids.begin(), ids.end(), rng);
  // Unused entries are -1: a kernel reading past a sequence's pages faults instead of passing.
  d.block_table.assign(d.S * d.bt_stride, -1);
  int64_t next = 0;
  for (int64_t s = 0; s < d.S; ++s) {
    for (int64_t p = 0; p < pages_needed[s]; ++p) d.block_table[s * d.bt_stride + p] = ids[next++];
  }
  d.cu = ::qwen::kernels::testing::CuSeqlens(c.news);
  for (int64_t s = 0; s < d.S; ++s) d.cached.push_back(static_cast<int32_t>(c.cached[s]));
  const int64_t pool = d.num_pages * c.page * c.hkv * c.d;
  d.k_pool = RoundedBf16(Normal(pool, seed + 1));
  d.v_pool = RoundedBf16(Uniform(pool, seed + 2));
  d.kv_stride = c.hkv * c.d + 8;
  d.k_new = RoundedBf16(Normal(std::max<int64_t>(d.N, 1) * d.kv_stride, seed + 3));
  d.v_new = RoundedBf16(Uniform(std::max<int64_t>(d.N, 1) * d.kv_stride, seed + 4));
  d.q_head_stride = c.qgate ? 2 * c.d : c.d;
  d.q_stride = c.hq * d.q_head_stride + (c.qgate ? 0 : 16);
  d.q = RoundedBf16(Normal(std::max<int64_t>(d.N, 1) * d.q_stride, seed + 5));
  d.out_stride = c.hq * c.d + 8;
  return d;
}

// The pools after the append: the new tokens' K/V at their positions, everything else unchanged.
void ExpectedPools(const PagedData& d, std::vector<float>& k, std::vector<float>& v) {
  k = d.k_pool;
  v = d.v_pool;
  for (int64_t s = 0; s < d.S; ++s) {
    for (int64_t i = 0; i < d.c.news[s]; ++i) {
      const int64_t t = d.cu[s] + i;
      for (int64_t g = 0; g < d.c.hkv; ++g) {
        const int64_t dst = d.PoolIndex(s, d.c.cached[s] + i, g);
        for (int64_t e = 0; e < d.c.d; ++e) {
          k[dst + e] = d.k_new[t * d.kv_stride + g * d.c.d + e];
          v[dst + e] = d.v_new[t * d.kv_stride + g * d.c.d + e];
        }
      }
    }
  }
}

// CPU reference: out [N, Hq * D] (rows contiguous), from the pools after the append.
std::vector<float> ReferenceAttention(const PagedData& d, const std::vector<float>& k_pool,
                                      const std::vector<float>& v_pool, float scale) {
  const PagedCase& c = d.c;
  std::vector<float> out(std::max<int64_t>(d.N, 1) * c.hq * c.d, 0.0f);
  for (int64_t s = 0; s < d.S; ++s) {
    const int64_t n = c.news[s], kv_len = c.cached[s] + n;
    if (n == 0) continue;
    std::vector<float> kc(kv_len * c.hkv * c.d), vc(kv_len * c.hkv * c.d), qc(n * c.hq * c.d);
    for (int64_t j = 0; j < kv_len; ++j) {
      for (int64_t g = 0; g < c.hkv; ++g) {
        const int64_t src = d.PoolIndex(s, j, g);
        std::copy(k_pool.begin() + src, k_pool.begin() + src + c.d,
                  kc.begin() + (j * c.hkv + g) * c.d);
        std::copy(v_pool.begin() + src, v_pool.begin() + src + c.d,
                  vc.begin() + (j * c.hkv + g) * c.d);
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t h = 0; h < c.hq; ++h) {
        const int64_t src = (d.cu[s] + i) * d.q_stride + h * d.q_head_stride;
        std::copy(d.q.begin() + src, d.q.begin() + src + c.d, qc.begin() + (i * c.hq + h) * c.d);
      }
    }
    cpu::CausalAttention(qc.data(), kc.data(), vc.data(), out.data() + d.cu[s] * c.hq * c.d,
                         {.num_new = n,
                          .kv_len = kv_len,
                          .num_heads_q = c.hq,
                          .num_heads_kv = c.hkv,
                          .head_dim = c.d,
                          .q_stride = c.hq * c.d,
                          .kv_stride = c.hkv * c.d,
                          .scale = scale});
  }
  return out;
}

// Every output element of the N tokens within tolerance, every padding element untouched.
void CheckOutput(const PagedData& d, const std::vector<Bf16>& got_raw,
                 const std::vector<float>& ref, const char* what) {
  const std::vector<float> got = FromBf16(got_raw);
  const int64_t row = d.c.hq * d.c.d;
  double max_err = 0.0;
  for (int64_t t = 0; t < d.N; ++t) {
    for (int64_t e = 0; e < d.out_stride; ++e) {
      const float g = got[t * d.out_stride + e];
      if (e >= row) {
        uint16_t bits;
        std::memcpy(&bits, &got_raw[t * d.out_stride + e], 2);
        ASSERT_EQ(bits, 0xFFFF) << what << ": write into the row padding at token " << t;
        continue;
      }
      const float r = ref[t * row + e];
      ASSERT_TRUE(std::isfinite(g))
          << what << ": token " << t << " element " << e << " not written";
      const double err = std::abs(static_cast<double>(g) - r);
      max_err = std::max(max_err, err);
      ASSERT_LE(err, kRel * std::abs(r) + kAbs)
          << what << ": token " << t << " head " << e / d.c.d << " dim " << e % d.c.d << " got "
          << g << " want " << r;
    }
  }
  ::testing::Test::RecordProperty(std::string(what) + "_max_abs_err", std::to_string(max_err));
}

class PagedAttentionTest : public CudaTestWithParam<PagedCase> {};

TEST_P(PagedAttentionTest, AppendThenAttentionMatchCpu) {
  const PagedData d = MakePagedData(GetParam(), 11);
  const PagedCase& c = d.c;
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.d));
  DeviceBuffer<Bf16> k_pool(ToBf16(d.k_pool)), v_pool(ToBf16(d.v_pool));
  DeviceBuffer<Bf16> k_new(ToBf16(d.k_new)), v_new(ToBf16(d.v_new)), q(ToBf16(d.q));
  DeviceBuffer<int32_t> cu(d.cu), cached(d.cached), bt(d.block_table);
  const PagedKvParams kvp{.num_tokens = d.N,
                          .num_seqs = d.S,
                          .num_heads_kv = c.hkv,
                          .head_dim = c.d,
                          .page_size = c.page,
                          .block_table_stride = d.bt_stride,
                          .k_stride = d.kv_stride,
                          .v_stride = d.kv_stride};
  ASSERT_EQ(PagedKvAppend(k_new.get(), v_new.get(), cu.get(), cached.get(), bt.get(), k_pool.get(),
                          v_pool.get(), kvp, nullptr),
            cudaSuccess);
  std::vector<float> k_want, v_want;
  ExpectedPools(d, k_want, v_want);
  // Exact copies, and nothing else of the pools changed.
  ASSERT_EQ(FromBf16(k_pool.Download()), k_want);
  ASSERT_EQ(FromBf16(v_pool.Download()), v_want);

  const std::vector<float> ref = ReferenceAttention(d, k_want, v_want, scale);
  PagedAttentionParams p{.num_tokens = d.N,
                         .num_seqs = d.S,
                         .max_query_len = d.max_q,
                         .num_heads_q = c.hq,
                         .num_heads_kv = c.hkv,
                         .head_dim = c.d,
                         .page_size = c.page,
                         .block_table_stride = d.bt_stride,
                         .q_stride = d.q_stride,
                         .q_head_stride = d.q_head_stride,
                         .out_stride = d.out_stride,
                         .scale = scale};
  DeviceBuffer<Bf16> out(std::max<int64_t>(d.N, 1) * d.out_stride);
  out.Poison();
  ASSERT_EQ(PagedAttention(q.get(), k_pool.get(), v_pool.get(), cu.get(), cached.get(), bt.get(),
                           out.get(), p, nullptr),
            cudaSuccess);
  const std::vector<Bf16> got = out.Download();
  CheckOutput(d, got, ref, d.max_q == 1 ? "decode" : "prefill");
  // Same inputs twice: bit-identical (no races, no order dependence between blocks).
  out.Poison();
  ASSERT_EQ(PagedAttention(q.get(), k_pool.get(), v_pool.get(), cu.get(), cached.get(), bt.get(),
                           out.get(), p, nullptr),
            cudaSuccess);
  const std::vector<Bf16> again = out.Download();
  ASSERT_EQ(std::memcmp(got.data(), again.data(), got.size() * sizeof(Bf16)), 0);

  if (d.max_q == 1) {
    // The prefill kernel on the same one-token batch (max_query_len is only a planning bound).
    p.max_query_len = 2;
    out.Poison();
    ASSERT_EQ(PagedAttention(q.get(), k_pool.get(), v_pool.get(), cu.get(), cached.get(), bt.get(),
                             out.get(), p, nullptr),
              cudaSuccess);
    CheckOutput(d, out.Download(), ref, "prefill kernel on a decode batch");
  }
}

std::vector<int64_t> Repeat(int64_t n, int64_t v) { return std::vector<int64_t>(n, v); }

std::vector<int64_t> DecodeContexts64() {
  // 64 cached lengths around 1024 with page boundaries and short ones mixed in.
  std::vector<int64_t> v;
  std::mt19937 rng(5);
  for (int i = 0; i < 64; ++i) v.push_back(i < 8 ? int64_t{15} + i : 700 + rng() % 400);
  return v;
}

INSTANTIATE_TEST_SUITE_P(
    Decode, PagedAttentionTest,
    ::testing::Values(PagedCase{{0}, {1}, 1, 1, 64, 8},
                      PagedCase{{0, 5, 15, 16, 17, 100, 300}, Repeat(7, 1), 8, 2, 128, 16},
                      PagedCase{DecodeContexts64(), Repeat(64, 1), 16, 4, 256, 16,
                                true},                                      // 9B shapes
                      PagedCase{{1000, 31, 32}, {1, 1, 1}, 8, 1, 256, 32},  // group 8
                      PagedCase{{40, 77}, {1, 1}, 12, 2, 128, 16},          // group 6 (masked)
                      PagedCase{{63, 64, 65}, {1, 1, 1}, 32, 2, 64, 8},     // group 16: 2 tiles
                      PagedCase{{20, 0, 9}, {1, 0, 1}, 4, 2, 128, 16},      // an idle sequence
                      PagedCase{{1500}, {1}, 4, 1, 256, 16, true, 256},     // 8 cluster splits
                      PagedCase{{3}, {1}, 2, 1, 64, 16, false, 512}));      // mostly empty splits

INSTANTIATE_TEST_SUITE_P(
    Prefill, PagedAttentionTest,
    ::testing::Values(PagedCase{{0, 5, 100, 0, 5}, {1, 17, 64, 65, 300}, 16, 4, 256, 16, true},
                      PagedCase{{100}, {300}, 4, 4, 128, 8},
                      PagedCase{{5, 3, 0}, {65, 0, 17}, 8, 1, 64, 32},
                      PagedCase{{0}, {64}, 2, 1, 256, 16},
                      PagedCase{
                          {20, 0, 7, 100}, {1, 1, 40, 1}, 8, 2, 128, 16},  // decode + prefill mixed
                      PagedCase{{15, 16}, {33, 16}, 12, 2, 64, 16, true}));

TEST_F(CudaTest, PagedAttentionRejectsBadArguments) {
  DeviceBuffer<Bf16> buf(1 << 16);
  DeviceBuffer<int32_t> idx(64);
  ASSERT_EQ(cudaMemset(idx.get(), 0, 64 * sizeof(int32_t)), cudaSuccess);
  const PagedAttentionParams ok{.num_tokens = 1,
                                .num_seqs = 1,
                                .max_query_len = 1,
                                .num_heads_q = 4,
                                .num_heads_kv = 2,
                                .head_dim = 64,
                                .page_size = 16,
                                .block_table_stride = 1,
                                .q_stride = 256,
                                .q_head_stride = 64,
                                .out_stride = 256,
                                .scale = 0.125f};
  auto run = [&](PagedAttentionParams p) {
    const cudaError_t e = PagedAttention(buf.get(), buf.get(), buf.get(), idx.get(), idx.get(),
                                         idx.get(), buf.get(), p, nullptr);
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
    return e;
  };
  PagedAttentionParams p = ok;
  p.head_dim = 96;
  EXPECT_EQ(run(p), cudaErrorInvalidValue) << "head dim 96";
  p = ok;
  p.num_heads_q = 3;
  EXPECT_EQ(run(p), cudaErrorInvalidValue) << "Hq not a multiple of Hkv";
  p = ok;
  p.page_size = 12;
  EXPECT_EQ(run(p), cudaErrorInvalidValue) << "page size not a power of two";
  p = ok;
  p.page_size = 4;
  EXPECT_EQ(run(p), cudaErrorInvalidValue) << "page size < 8";
  p = ok;
  p.out_stride = 100;
  EXPECT_EQ(run(p), cudaErrorInvalidValue) << "out_stride < Hq * D";
  p = ok;
  p.q_stride = 250;
  EXPECT_EQ(run(p), cudaErrorInvalidValue) << "q_stride < Hq * D";
  p = ok;
  p.max_query_len = 0;
  EXPECT_EQ(run(p), cudaErrorInvalidValue) << "max_query_len 0 with tokens";
  p = ok;
  p.num_tokens = 0;
  EXPECT_EQ(run(p), cudaSuccess) << "an empty batch is not an error";
  EXPECT_EQ(PagedAttention(nullptr, buf.get(), buf.get(), idx.get(), idx.get(), idx.get(),
                           buf.get(), ok, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(PagedAttention(buf.get() + 1, buf.get(), buf.get(), idx.get(), idx.get(), idx.get(),
                           buf.get(), ok, nullptr),
            cudaErrorInvalidValue)
      << "misaligned q";
  const PagedKvParams kv{.num_tokens = 1,
                         .num_seqs = 1,
                         .num_heads_kv = 2,
                         .head_dim = 64,
                         .page_size = 24,
                         .block_table_stride = 1,
                         .k_stride = 128,
                         .v_stride = 128};
  EXPECT_EQ(PagedKvAppend(buf.get(), buf.get(), idx.get(), idx.get(), idx.get(), buf.get(),
                          buf.get(), kv, nullptr),
            cudaErrorInvalidValue)
      << "append: page size 24";
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

}  // namespace
}  // namespace qwen::kernels::cuda

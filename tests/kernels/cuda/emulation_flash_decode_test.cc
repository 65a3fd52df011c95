// The warp-level attention kernels run from their own source on the CPU SIMT emulator
// (simt_emulation.h: every thread a fiber, shuffles / ldmatrix / mma.sync / barriers executed
// when all participants arrive), against the CPU references:
//   * FlashAttentionKernel (detail/flash_attention.cuh) as the vision segment attention for head
//     dims 64, 72 (the k8 tail and the odd n8 tile), 80 and 128 (Q from registers, 4 or 8 warps),
//     and as the causal paged prefill for D 64 / 128 / 256 (Q re-read from shared memory at 256)
//     with GQA groups packed into the rows (1, 4, 6: rows left idle, 16), cached prefixes,
//     partial tiles and page boundaries, its causal tiles in rank-major order;
//   * FlashAttentionLegacyKernel, the previous kernel (proven on GPUs), on the same data: a check
//     of the emulator's fragment layouts as much as of the kernel;
//   * PagedDecodeKernel (detail/paged_decode.cuh) for every (D, heads per block) shape class
//     (the butterfly with and without duplicate lanes, steps that cross pages), with 1..8 warps
//     and cluster splits 1..8 (empty splits and idle warps included), GQA groups not a power of two,
//     blocks holding half of a group.
// Tolerances are the GPU tests' (paged_attention_test.cc, vision_test.cc): p is rounded to bf16
// for the tensor cores and the output once, so |got - ref| <= 1e-2 |ref| + 2.5e-3 max|v|.
// Shared memory starts as NaN, the outputs as 0xFFFF: unwritten or stale data cannot pass.
#include "tests/kernels/cuda/simt_emulation.h"  // first: defines the CUDA built-ins

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/cuda/detail/flash_attention.cuh"
#include "kernels/cuda/detail/paged_decode.cuh"
#include "kernels/cuda/detail/paged_kv_core.h"
#include "kernels/vision_attention.h"
#include "tests/kernels/cuda/gdn_test_data.h"
#include "tests/kernels/test_util.h"

namespace qwen::kernels::cuda::detail {
namespace {

using ::qwen::kernels::testing::CuSeqlens;
using ::qwen::kernels::testing::FromBf16;
using ::qwen::kernels::testing::Normal;
using ::qwen::kernels::testing::RoundedBf16;
using ::qwen::kernels::testing::ToBf16;
using ::qwen::kernels::testing::Uniform;

constexpr double kRel = 1e-2;
constexpr double kAbs = 2.5e-3;
constexpr uint16_t kPoison = 0xFFFF;

std::vector<__nv_bfloat16> Poisoned(int64_t n) {
  std::vector<__nv_bfloat16> v(static_cast<size_t>(n));
  std::memset(static_cast<void*>(v.data()), 0xff, v.size() * sizeof(__nv_bfloat16));
  return v;
}

// out [rows, stride] against ref [rows, width]: every element within tolerance, the row padding
// untouched.
::testing::AssertionResult OutputMatches(const std::vector<__nv_bfloat16>& out, int64_t stride,
                                         const std::vector<float>& ref, int64_t width,
                                         int64_t rows) {
  const std::vector<float> got = FromBf16(out);
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t e = 0; e < stride; ++e) {
      if (e >= width) {
        uint16_t bits;
        std::memcpy(&bits, &out[t * stride + e], 2);
        if (bits != kPoison) return ::testing::AssertionFailure() << "padding written, row " << t;
        continue;
      }
      const double g = got[t * stride + e], r = ref[t * width + e];
      if (!std::isfinite(g) || !(std::abs(g - r) <= kRel * std::abs(r) + kAbs)) {
        return ::testing::AssertionFailure()
               << "row " << t << " element " << e << ": got " << g << " want " << r;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------------
// Vision segment attention (the kernel's non-paged instantiation)

struct SegRun {
  std::vector<int64_t> lengths;
  int64_t heads, head_dim;
};

struct SegData {
  int64_t n = 0, hd = 0, qkv_stride = 0, out_stride = 0;
  std::vector<float> qkv;
  std::vector<__nv_bfloat16> qkv_bf;
  std::vector<int32_t> cu;
  std::vector<float> ref;
  float scale = 0.0f;
};

SegData MakeSeg(const SegRun& c) {
  SegData d;
  for (int64_t l : c.lengths) d.n += l;
  d.hd = c.heads * c.head_dim;
  d.qkv_stride = 3 * d.hd;
  d.out_stride = d.hd + 8;
  d.qkv = RoundedBf16(Normal(d.n * d.qkv_stride, 9));
  for (int64_t t = 0; t < d.n; ++t) {  // v uniform in [-1, 1] (the tolerance's max|v|)
    const std::vector<float> v = RoundedBf16(Uniform(d.hd, 100 + static_cast<uint32_t>(t)));
    std::copy(v.begin(), v.end(), d.qkv.begin() + t * d.qkv_stride + 2 * d.hd);
  }
  d.qkv_bf = ToBf16(d.qkv);
  d.cu = CuSeqlens(c.lengths);
  std::vector<int64_t> cu64(d.cu.begin(), d.cu.end());
  d.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  d.ref.assign(d.n * d.hd, 0.0f);
  cpu::SegmentAttention(d.qkv.data(), d.qkv.data() + d.hd, d.qkv.data() + 2 * d.hd, cu64.data(),
                        d.ref.data(),
                        {.num_segments = static_cast<int64_t>(c.lengths.size()),
                         .num_heads = c.heads,
                         .head_dim = c.head_dim,
                         .q_stride = d.qkv_stride,
                         .kv_stride = d.qkv_stride,
                         .out_stride = d.hd,
                         .scale = d.scale});
  return d;
}

// The FlashArgs of kernels/cuda/vision_attention.cu's SegmentAttention.
FlashArgs SegArgs(const SegRun& c, const SegData& d, __nv_bfloat16* out) {
  FlashArgs a;
  a.q = d.qkv_bf.data();
  a.k = d.qkv_bf.data() + d.hd;
  a.v = d.qkv_bf.data() + 2 * d.hd;
  a.cu_seqlens = d.cu.data();
  a.out = out;
  a.num_seqs = static_cast<int>(c.lengths.size());
  a.num_heads_kv = static_cast<int>(c.heads);
  a.group = 1;
  a.head_dim = static_cast<int>(c.head_dim);
  a.q_stride = d.qkv_stride;
  a.q_head_stride = c.head_dim;
  a.kv_stride = d.qkv_stride;
  a.out_stride = d.out_stride;
  a.scale_log2 = d.scale * kLog2e;
  return a;
}

template <int kD, bool kPaged>
void RunFlash(FlashArgs a, int64_t num_tokens) {
  const int64_t blocks = FlashGridBlocks<kD>(&a, num_tokens);
  emu::Launch(dim3(static_cast<unsigned>(blocks)), dim3(FlashTile<kD>::kThreads), 1,
              FlashTile<kD>::kSmemBytes, [&] { FlashAttentionKernel<kD, kPaged>(a); });
}

template <int kD, bool kPaged>
void RunFlashLegacy(const FlashArgs& a, int64_t num_tokens, int num_heads_q) {
  const int64_t tiles = CeilDiv<int64_t>(num_tokens, kFlashLegacyM) + a.num_seqs;
  emu::Launch(dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(num_heads_q)),
              dim3(kFlashLegacyThreads), 1, FlashLegacySmemBytes<kD>(),
              [&] { FlashAttentionLegacyKernel<kD, kPaged>(a); });
}

template <int kD, bool kLegacy = false>
void CheckSegment(const SegRun& c) {
  const SegData d = MakeSeg(c);
  std::vector<__nv_bfloat16> out = Poisoned(d.n * d.out_stride);
  const FlashArgs a = SegArgs(c, d, out.data());
  if constexpr (kLegacy) {
    RunFlashLegacy<kD, false>(a, d.n, static_cast<int>(c.heads));
  } else {
    RunFlash<kD, false>(a, d.n);
  }
  EXPECT_TRUE(OutputMatches(out, d.out_stride, d.ref, d.hd, d.n))
      << "D " << c.head_dim << " (tile " << kD << (kLegacy ? ", legacy)" : ")");
}

TEST(FlashEmulationTest, SegmentAttentionHeadDim72UsesTheK8Tail) {
  // 130: two 128-row tiles and a 64-key tile boundary inside the second; 0: an empty segment.
  CheckSegment<72>({{1, 17, 64, 65, 130, 0, 5}, 2, 72});
}

TEST(FlashEmulationTest, SegmentAttentionOtherHeadDims) {
  CheckSegment<64>({{70, 3}, 2, 64});
  CheckSegment<64>({{33}, 1, 56});  // padded dims (D < kD) read as zeros and are not written
  CheckSegment<80>({{129, 2}, 1, 80});
  CheckSegment<128>({{97}, 2, 128});
}

TEST(FlashEmulationTest, LegacySegmentKernelAgrees) {
  CheckSegment<80, true>({{1, 65, 70}, 2, 72});
}

// ---------------------------------------------------------------------------------------------
// Paged KV cache: prefill (flash kernel, causal) and decode

struct PagedRun {
  std::vector<int64_t> cached, news;
  int64_t hq, hkv, d, page;
  bool qgate = false;
};

struct PagedData {
  PagedRun c;
  int64_t S = 0, N = 0, bt_stride = 0, num_pages = 0;
  int64_t q_stride = 0, q_head_stride = 0, out_stride = 0;
  std::vector<int32_t> cu, cached, bt;
  std::vector<float> kpool, vpool, q;
  std::vector<__nv_bfloat16> kpool_bf, vpool_bf, q_bf;
  std::vector<float> ref;  // [N, Hq * D]
};

PagedData MakePaged(const PagedRun& c, uint32_t seed) {
  PagedData d;
  d.c = c;
  d.S = static_cast<int64_t>(c.news.size());
  std::vector<int64_t> need(d.S);
  for (int64_t s = 0; s < d.S; ++s) {
    d.N += c.news[s];
    need[s] = (c.cached[s] + c.news[s] + c.page - 1) / c.page;
    d.bt_stride = std::max(d.bt_stride, need[s]);
  }
  d.bt_stride = std::max<int64_t>(d.bt_stride, 1);
  d.num_pages = std::accumulate(need.begin(), need.end(), int64_t{0}) + 3;
  std::vector<int32_t> ids(d.num_pages);
  std::iota(ids.begin(), ids.end(), 0);
  std::mt19937 rng(seed);
  std::shuffle(ids.begin(), ids.end(), rng);
  d.bt.assign(d.S * d.bt_stride, -1);
  int64_t next = 0;
  for (int64_t s = 0; s < d.S; ++s) {
    for (int64_t p = 0; p < need[s]; ++p) d.bt[s * d.bt_stride + p] = ids[next++];
  }
  d.cu = CuSeqlens(c.news);
  for (int64_t s = 0; s < d.S; ++s) d.cached.push_back(static_cast<int32_t>(c.cached[s]));
  const int64_t pool = d.num_pages * c.page * c.hkv * c.d;
  d.kpool = RoundedBf16(Normal(pool, seed + 1));
  d.vpool = RoundedBf16(Uniform(pool, seed + 2));
  d.q_head_stride = c.qgate ? 2 * c.d : c.d;
  d.q_stride = c.hq * d.q_head_stride + (c.qgate ? 0 : 16);
  d.q = RoundedBf16(Normal(std::max<int64_t>(d.N, 1) * d.q_stride, seed + 3));
  d.out_stride = c.hq * c.d + 8;
  d.kpool_bf = ToBf16(d.kpool);
  d.vpool_bf = ToBf16(d.vpool);
  d.q_bf = ToBf16(d.q);

  const float scale = 1.0f / std::sqrt(static_cast<float>(c.d));
  d.ref.assign(std::max<int64_t>(d.N, 1) * c.hq * c.d, 0.0f);
  for (int64_t s = 0; s < d.S; ++s) {
    const int64_t n = c.news[s], kv_len = c.cached[s] + n;
    if (n == 0) continue;
    std::vector<float> kc(kv_len * c.hkv * c.d), vc(kv_len * c.hkv * c.d), qc(n * c.hq * c.d);
    for (int64_t j = 0; j < kv_len; ++j) {
      for (int64_t g = 0; g < c.hkv; ++g) {
        const int64_t page = d.bt[s * d.bt_stride + j / c.page];
        const int64_t src = ((page * c.page + j % c.page) * c.hkv + g) * c.d;
        std::copy(d.kpool.begin() + src, d.kpool.begin() + src + c.d,
                  kc.begin() + (j * c.hkv + g) * c.d);
        std::copy(d.vpool.begin() + src, d.vpool.begin() + src + c.d,
                  vc.begin() + (j * c.hkv + g) * c.d);
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t h = 0; h < c.hq; ++h) {
        const int64_t src = (d.cu[s] + i) * d.q_stride + h * d.q_head_stride;
        std::copy(d.q.begin() + src, d.q.begin() + src + c.d, qc.begin() + (i * c.hq + h) * c.d);
      }
    }
    cpu::CausalAttention(qc.data(), kc.data(), vc.data(), d.ref.data() + d.cu[s] * c.hq * c.d,
                         {.num_new = n,
                          .kv_len = kv_len,
                          .num_heads_q = c.hq,
                          .num_heads_kv = c.hkv,
                          .head_dim = c.d,
                          .q_stride = c.hq * c.d,
                          .kv_stride = c.hkv * c.d,
                          .scale = scale});
  }
  return d;
}

int Log2Of(int64_t x) { return Log2Exact(x); }

// The FlashArgs of kernels/cuda/paged_attention.cu's prefill branch.
FlashArgs PrefillArgs(const PagedData& d, __nv_bfloat16* out) {
  FlashArgs a;
  a.q = d.q_bf.data();
  a.k = d.kpool_bf.data();
  a.v = d.vpool_bf.data();
  a.cu_seqlens = d.cu.data();
  a.cached_lens = d.cached.data();
  a.block_table = d.bt.data();
  a.out = out;
  a.num_seqs = static_cast<int>(d.S);
  a.num_heads_kv = static_cast<int>(d.c.hkv);
  a.group = static_cast<int>(d.c.hq / d.c.hkv);
  a.head_dim = static_cast<int>(d.c.d);
  a.log2_page = Log2Of(d.c.page);
  a.bt_stride = d.bt_stride;
  a.q_stride = d.q_stride;
  a.q_head_stride = d.q_head_stride;
  a.out_stride = d.out_stride;
  a.scale_log2 = 1.0f / std::sqrt(static_cast<float>(d.c.d)) * kLog2e;
  return a;
}

template <int kD, bool kLegacy = false>
void CheckPrefill(const PagedRun& c) {
  const PagedData d = MakePaged(c, 21);
  std::vector<__nv_bfloat16> out = Poisoned(std::max<int64_t>(d.N, 1) * d.out_stride);
  const FlashArgs a = PrefillArgs(d, out.data());
  if constexpr (kLegacy) {
    RunFlashLegacy<kD, true>(a, d.N, static_cast<int>(c.hq));
  } else {
    RunFlash<kD, true>(a, d.N);
  }
  EXPECT_TRUE(OutputMatches(out, d.out_stride, d.ref, c.hq * c.d, d.N))
      << "prefill D " << c.d << " Hq " << c.hq << " Hkv " << c.hkv << (kLegacy ? " legacy" : "");
}

TEST(FlashEmulationTest, RankMajorTileOrderCoversEveryTileOnce) {
  // 40 sequences (two warp chunks), empty ones included, 7-token tiles.
  std::vector<int64_t> lengths;
  std::mt19937 rng(3);
  for (int i = 0; i < 40; ++i) lengths.push_back(i % 9 == 4 ? 0 : static_cast<int64_t>(rng() % 60));
  const std::vector<int32_t> cu = CuSeqlens(lengths);
  const int tile_tokens = 7, num_seqs = static_cast<int>(lengths.size());
  int64_t total = 0;
  for (int64_t l : lengths) total += (l + tile_tokens - 1) / tile_tokens;
  struct Hit {
    bool found = false;
    int seq = -1, tile = -1, tiles = -1;
  };
  std::vector<Hit> hits(total + 5);
  emu::Launch(dim3(static_cast<unsigned>(hits.size())), dim3(32), 1, 0, [&] {
    Hit h;
    h.found = FlashFindTileByRank(cu.data(), num_seqs, blockIdx.x, tile_tokens, &h.seq, &h.tile,
                                  &h.tiles);
    if (threadIdx.x == 0) hits[blockIdx.x] = h;
  });
  std::vector<std::vector<int>> seen(num_seqs);
  int last_rank = 0;
  for (int64_t b = 0; b < static_cast<int64_t>(hits.size()); ++b) {
    const Hit& h = hits[b];
    ASSERT_EQ(h.found, b < total) << "block " << b;
    if (!h.found) continue;
    ASSERT_EQ(h.tiles, (lengths[h.seq] + tile_tokens - 1) / tile_tokens);
    ASSERT_TRUE(h.tile >= 0 && h.tile < h.tiles);
    const int rank = h.tiles - 1 - h.tile;
    ASSERT_GE(rank, last_rank) << "block " << b << ": the longest tiles come first";
    last_rank = rank;
    seen[h.seq].push_back(h.tile);
  }
  for (int s = 0; s < num_seqs; ++s) {
    std::sort(seen[s].begin(), seen[s].end());
    ASSERT_EQ(static_cast<int64_t>(seen[s].size()), (lengths[s] + tile_tokens - 1) / tile_tokens);
    for (int i = 0; i < static_cast<int>(seen[s].size()); ++i) ASSERT_EQ(seen[s][i], i);
  }
}

TEST(FlashEmulationTest, PagedPrefillHeadDim256Group4) {
  // 9B shapes scaled down: 32 tokens x 4 heads per block; prefixes crossing 64-key tiles.
  CheckPrefill<256>({{0, 70, 5}, {40, 33, 1}, 8, 2, 256, 16, true});
}

TEST(FlashEmulationTest, PagedPrefillOtherShapes) {
  CheckPrefill<64>({{5, 0}, {65, 17}, 6, 1, 64, 8});         // group 6: 21 tokens x 6 heads
  CheckPrefill<64>({{3}, {20}, 16, 1, 64, 32});               // group 16: 8 tokens x 16 heads
  CheckPrefill<128>({{100, 0}, {130, 1}, 2, 2, 128, 16});     // group 1: 128 tokens x 1 head
}

TEST(FlashEmulationTest, LegacyPrefillKernelAgrees) {
  CheckPrefill<128, true>({{30}, {70}, 4, 2, 128, 16});
}

int DecodeHeads(int group) {
  int kg = 1;
  while (kg < group && kg < 8) kg *= 2;
  return kg;
}

// Runs PagedDecodeKernel with `warps` warps per block and `splits` blocks per cluster.
template <int kD, int kG>
void CheckDecode(const PagedRun& c, int warps, int splits) {
  const PagedData d = MakePaged(c, 31 + static_cast<uint32_t>(warps * 10 + splits));
  std::vector<__nv_bfloat16> out = Poisoned(std::max<int64_t>(d.N, 1) * d.out_stride);
  DecodeArgs a;
  a.q = d.q_bf.data();
  a.k_pages = d.kpool_bf.data();
  a.v_pages = d.vpool_bf.data();
  a.cu_seqlens = d.cu.data();
  a.cached_lens = d.cached.data();
  a.block_table = d.bt.data();
  a.out = out.data();
  a.num_heads_kv = static_cast<int>(c.hkv);
  a.group = static_cast<int>(c.hq / c.hkv);
  // The launcher uses the group's power of two, or half of it for batches of a few sequences.
  ASSERT_TRUE(DecodeHeads(a.group) == kG || DecodeHeads(a.group) == 2 * kG);
  a.head_tiles = (a.group + kG - 1) / kG;
  a.log2_page = Log2Of(c.page);
  a.bt_stride = d.bt_stride;
  a.q_stride = d.q_stride;
  a.q_head_stride = d.q_head_stride;
  a.out_stride = d.out_stride;
  a.scale_log2 = 1.0f / std::sqrt(static_cast<float>(c.d)) * kLog2e;
  emu::Launch(dim3(static_cast<unsigned>(splits),
                   static_cast<unsigned>(a.num_heads_kv * a.head_tiles),
                   static_cast<unsigned>(d.S)),
              dim3(static_cast<unsigned>(warps * 32)), splits,
              DecodeShape<kD, kG>::SmemBytes(warps), [&] { PagedDecodeKernel<kD, kG>(a); });
  EXPECT_TRUE(OutputMatches(out, d.out_stride, d.ref, c.hq * c.d, d.N))
      << "decode D " << kD << " kG " << kG << " warps " << warps << " splits " << splits;
}

std::vector<int64_t> Ones(size_t n) { return std::vector<int64_t>(n, 1); }

TEST(DecodeEmulationTest, HeadDim256Group4) {
  // 9B: 8 tokens per step, one score per lane. Contexts of 1 token, page boundaries, several
  // steps per warp; idle warps (1 token), empty splits.
  const PagedRun c{{0, 15, 16, 200, 77}, Ones(5), 8, 2, 256, 16, true};
  CheckDecode<256, 4>(c, 4, 1);
  CheckDecode<256, 4>(c, 3, 2);
  CheckDecode<256, 4>(c, 1, 8);
  CheckDecode<256, 4>(c, 8, 4);
}

TEST(DecodeEmulationTest, DuplicateLanesAndPageCrossingSteps) {
  // D 256 / 128, one head per block: fewer partial scores than lanes (duplicates).
  CheckDecode<256, 1>({{40, 9}, Ones(2), 2, 2, 256, 16}, 2, 2);
  CheckDecode<128, 1>({{33}, Ones(1), 1, 1, 128, 8}, 4, 1);
  // D 64, one head: 32-token steps over 8-token pages.
  CheckDecode<64, 1>({{0, 100}, Ones(2), 1, 1, 64, 8}, 2, 2);
  // D 128, two heads per block.
  CheckDecode<128, 2>({{64, 5}, Ones(2), 4, 2, 128, 16}, 4, 2);
}

TEST(DecodeEmulationTest, GroupsOfEightAndMore) {
  // Group 6 (heads 6, 7 of the tile idle), group 16 (two head tiles of 8), D 64 and 256.
  CheckDecode<64, 8>({{63, 64, 65}, Ones(3), 12, 2, 64, 8}, 2, 1);
  CheckDecode<64, 8>({{20, 0}, Ones(2), 32, 2, 64, 16}, 4, 2);
  CheckDecode<256, 8>({{50}, Ones(1), 6, 1, 256, 16}, 2, 4);
}

TEST(DecodeEmulationTest, HalfAGroupPerBlock) {
  // Few long sequences: blocks of 2 (of group 4) or 4 (of group 8) heads, two head tiles.
  CheckDecode<256, 2>({{300}, Ones(1), 4, 1, 256, 16, true}, 8, 4);
  CheckDecode<256, 4>({{90, 31}, Ones(2), 16, 2, 256, 32}, 4, 2);
}

TEST(DecodeEmulationTest, IdleSequenceIsSkipped) {
  // A sequence without a new token (cu[s + 1] == cu[s]) writes nothing.
  CheckDecode<128, 4>({{20, 0, 9}, {1, 0, 1}, 4, 1, 128, 16}, 2, 2);
}

}  // namespace
}  // namespace qwen::kernels::cuda::detail

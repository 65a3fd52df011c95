// CPU emulation of the CUDA block programs (kernels/cuda/detail/*_core.h) against the CPU
// references (kernels/cpu). The exact code the CUDA kernels run is executed here with HostBlock,
// block by block over the same grid the launchers use, with every phase's items run forward and
// in reverse: equal results in both orders show that the items of each phase are independent
// (no missing barrier, no race on the GPU), and shared memory is poisoned with NaN before each
// block so that a read of anything not written in the block shows up. Runs without a GPU (CI).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "kernels/conv1d.h"
#include "kernels/cuda/detail/conv1d_core.h"
#include "kernels/cuda/detail/gated_delta_rule_core.h"
#include "kernels/cuda/detail/rope_core.h"
#include "kernels/gated_delta_rule.h"
#include "kernels/rope.h"
#include "tests/kernels/cuda/gdn_test_data.h"
#include "tests/kernels/test_util.h"

namespace qwen::kernels::cuda::detail {
namespace {

using ::qwen::kernels::testing::CuSeqlens;
using ::qwen::kernels::testing::GdrBatch;
using ::qwen::kernels::testing::MakeGdrBatch;
using ::qwen::kernels::testing::MixedInitialFlags;
using ::qwen::kernels::testing::Normal;
using ::qwen::kernels::testing::NormwiseClose;
using ::qwen::kernels::testing::RoundBf16;
using ::qwen::kernels::testing::RoundedBf16;
using ::qwen::kernels::testing::ScatteredSlots;
using ::qwen::kernels::testing::ToBf16;
using ::qwen::kernels::testing::Uniform;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// Conv1d

struct ConvCase {
  std::vector<int64_t> lengths;
  int64_t channels, kernel, u_stride, out_stride;
};
void PrintTo(const ConvCase& c, std::ostream* os) {
  *os << "lens";
  for (int64_t n : c.lengths) *os << "_" << n;
  *os << "_C" << c.channels << "_Kc" << c.kernel;
}

struct ConvData {
  ConvCase c;
  int64_t tokens = 0, num_slots = 0;
  std::vector<float> u, w, pool0;  // u [N, u_stride], w [C, Kc], pool [slots, Kc-1, C] (rounded)
  std::vector<int32_t> cu, slots, has_init;
};

ConvData MakeConvData(const ConvCase& c, uint32_t seed) {
  ConvData d;
  d.c = c;
  for (int64_t n : c.lengths) d.tokens += n;
  d.u = RoundedBf16(Normal(std::max<int64_t>(d.tokens, 1) * c.u_stride, seed, 2.0f));
  d.w = RoundedBf16(Normal(c.channels * c.kernel, seed + 1, 0.7f));
  d.cu = CuSeqlens(c.lengths);
  d.slots = ScatteredSlots(c.lengths.size());
  d.has_init = MixedInitialFlags(c.lengths.size());
  d.num_slots = 2 * static_cast<int64_t>(c.lengths.size()) + 1;
  d.pool0 = Normal(std::max<int64_t>(d.num_slots * (c.kernel - 1) * c.channels, 1), seed + 2, 2.0f);
  return d;
}

// CPU reference: cpu::CausalConv1dSilu per sequence from its slot (zeros without has_init).
void CpuConv(const ConvData& d, std::vector<float>& pool, std::vector<float>& out) {
  const ConvCase& c = d.c;
  const int64_t hist = c.kernel - 1;
  pool = d.pool0;
  out.assign(static_cast<size_t>(std::max<int64_t>(d.tokens, 1) * c.out_stride), kNaN);
  for (size_t s = 0; s < c.lengths.size(); ++s) {
    float* st = pool.data() + d.slots[s] * hist * c.channels;
    if (!d.has_init[s]) std::fill(st, st + hist * c.channels, 0.0f);
    std::vector<float> o(static_cast<size_t>(c.lengths[s] * c.channels));
    cpu::CausalConv1dSilu(d.u.data() + d.cu[s] * c.u_stride, d.w.data(), st, o.data(),
                          {.num_tokens = c.lengths[s],
                           .channels = c.channels,
                           .kernel = c.kernel,
                           .u_stride = c.u_stride});
    for (int64_t t = 0; t < c.lengths[s]; ++t) {
      std::copy(o.begin() + t * c.channels, o.begin() + (t + 1) * c.channels,
                out.begin() + (d.cu[s] + t) * c.out_stride);
    }
  }
}

template <class Cfg>
void EmuConvVarlen(const ConvData& d, bool reverse, std::vector<float>& pool,
                   std::vector<float>& out) {
  const ConvCase& c = d.c;
  const std::vector<__nv_bfloat16> u = ToBf16(d.u), w = ToBf16(d.w);
  pool = d.pool0;
  out.assign(static_cast<size_t>(std::max<int64_t>(d.tokens, 1) * c.out_stride), kNaN);
  ConvArgs a;
  a.u = u.data();
  a.w = w.data();
  a.cu_seqlens = d.cu.data();
  a.slots = d.slots.data();
  a.has_initial_state = d.has_init.data();
  a.state_pool = pool.data();
  a.out = out.data();
  a.num_tokens = d.tokens;
  a.num_seqs = static_cast<int>(c.lengths.size());
  a.channels = static_cast<int>(c.channels);
  a.kernel = static_cast<int>(c.kernel);
  a.u_stride = c.u_stride;
  a.out_stride = c.out_stride;
  const HostBlock blk{reverse};
  // Launch 1 (all blocks), then launch 2, as LaunchConvVarlen does.
  const Grid3 g1 = ConvPrefillGrid<Cfg>(a);
  for (int by = 0; by < g1.y; ++by) {
    for (int bx = 0; bx < g1.x; ++bx) ConvPrefillBlock<Cfg>(blk, bx, by, a);
  }
  if (c.kernel > 1) {
    const Grid3 g2 = ConvPerSeqGrid<Cfg>(a);
    for (int s = 0; s < g2.y; ++s) {
      for (int bx = 0; bx < g2.x; ++bx) ConvStateUpdateBlock<Cfg>(blk, bx, s, a);
    }
  }
}

class ConvEmulationTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvEmulationTest, VarlenMatchesCpuBitwise) {
  const ConvData d = MakeConvData(GetParam(), 17);
  std::vector<float> ref_pool, ref_out;
  CpuConv(d, ref_pool, ref_out);
  for (const bool reverse : {false, true}) {
    std::vector<float> pool, out;
    EmuConvVarlen<ConvDefaultConfig>(d, reverse, pool, out);
    // Same fp32 operations in the same order as the CPU reference: bit-identical (NaN padding
    // between rows compares unequal to itself, so compare row by row).
    for (int64_t t = 0; t < d.tokens; ++t) {
      for (int64_t ch = 0; ch < d.c.channels; ++ch) {
        ASSERT_EQ(out[t * d.c.out_stride + ch], ref_out[t * d.c.out_stride + ch])
            << "token " << t << " channel " << ch << " reverse " << reverse;
      }
    }
    EXPECT_EQ(pool, ref_pool) << "reverse " << reverse;
    std::vector<float> pool_gb10, out_gb10;
    EmuConvVarlen<ConvGb10Config>(d, reverse, pool_gb10, out_gb10);
    EXPECT_EQ(pool_gb10, ref_pool);
    for (int64_t t = 0; t < d.tokens; ++t) {
      for (int64_t ch = 0; ch < d.c.channels; ++ch) {
        ASSERT_EQ(out_gb10[t * d.c.out_stride + ch], ref_out[t * d.c.out_stride + ch]);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvEmulationTest,
                         ::testing::Values(ConvCase{{1, 63, 64, 65, 130}, 37, 4, 40, 37},
                                           ConvCase{{2, 0, 1, 5, 33}, 200, 4, 200, 203},
                                           ConvCase{{3, 1, 1, 19}, 130, 2, 131, 130},
                                           ConvCase{{7, 1}, 65, 1, 65, 65},
                                           ConvCase{{0, 0}, 9, 4, 9, 9}));

TEST(ConvEmulationTest, DecodeStepsMatchCpu) {
  const int64_t seqs = 5, channels = 150, kernel = 4, u_stride = 160, steps = 4;
  const std::vector<int32_t> slots = ScatteredSlots(seqs);
  const int64_t num_slots = 2 * seqs + 1;
  std::vector<float> pool_ref = Normal(num_slots * (kernel - 1) * channels, 3, 2.0f);
  std::vector<float> pool = pool_ref;
  const std::vector<float> w = RoundedBf16(Normal(channels * kernel, 4, 0.7f));
  const std::vector<__nv_bfloat16> wb = ToBf16(w);
  for (int64_t step = 0; step < steps; ++step) {
    const std::vector<float> u = RoundedBf16(Normal(seqs * u_stride, 10 + step, 2.0f));
    const std::vector<__nv_bfloat16> ub = ToBf16(u);
    std::vector<float> out(seqs * channels, kNaN), ref(seqs * channels);
    for (int64_t s = 0; s < seqs; ++s) {
      cpu::CausalConv1dSilu(
          u.data() + s * u_stride, w.data(), pool_ref.data() + slots[s] * (kernel - 1) * channels,
          ref.data() + s * channels,
          {.num_tokens = 1, .channels = channels, .kernel = kernel, .u_stride = u_stride});
    }
    ConvArgs a;
    a.u = ub.data();
    a.w = wb.data();
    a.slots = slots.data();
    a.state_pool = pool.data();
    a.out = out.data();
    a.num_tokens = seqs;
    a.num_seqs = static_cast<int>(seqs);
    a.channels = static_cast<int>(channels);
    a.kernel = static_cast<int>(kernel);
    a.u_stride = u_stride;
    a.out_stride = channels;
    const Grid3 g = ConvPerSeqGrid<ConvGb10Config>(a);
    for (int s = 0; s < g.y; ++s) {
      for (int bx = 0; bx < g.x; ++bx) ConvUpdateBlock<ConvGb10Config>(HostBlock{}, bx, s, a);
    }
    EXPECT_EQ(out, ref) << "step " << step;
    EXPECT_EQ(pool, pool_ref) << "step " << step;
  }
}

// ---------------------------------------------------------------------------------------------
// Gates

TEST(GatesEmulationTest, MatchesCpuBitwise) {
  const int64_t tokens = 19, hv = 6, a_stride = 11, b_stride = 8;
  std::vector<float> a = RoundedBf16(Normal(tokens * a_stride, 1, 3.0f));
  std::vector<float> b = RoundedBf16(Normal(tokens * b_stride, 2, 3.0f));
  a[0] = 100.0f;  // softplus threshold: identity
  b[1] = -100.0f;
  const std::vector<float> a_log = Uniform(hv, 3, 0.0f, 2.8f);
  const std::vector<float> dt_bias = Uniform(hv, 4, -5.0f, 1.0f);
  std::vector<float> g_ref(tokens * hv), beta_ref(tokens * hv);
  cpu::GatedDeltaGates(a.data(), b.data(), a_log.data(), dt_bias.data(), g_ref.data(),
                       beta_ref.data(), tokens, hv, a_stride, b_stride);
  const std::vector<__nv_bfloat16> ab = ToBf16(a), bb = ToBf16(b);
  std::vector<float> g(tokens * hv, kNaN), beta(tokens * hv, kNaN);
  GatesArgs args;
  args.a = ab.data();
  args.b = bb.data();
  args.a_log = a_log.data();
  args.dt_bias = dt_bias.data();
  args.g = g.data();
  args.beta = beta.data();
  args.num_tokens = tokens;
  args.num_heads_v = static_cast<int>(hv);
  args.a_stride = a_stride;
  args.b_stride = b_stride;
  const Grid3 grid = GatesGrid(args);
  for (int bx = 0; bx < grid.x; ++bx) GatesBlock(HostBlock{true}, bx, args);
  EXPECT_EQ(g, g_ref);
  EXPECT_EQ(beta, beta_ref);
}

// ---------------------------------------------------------------------------------------------
// Gated delta rule

GdrArgs MakeGdrArgs(const GdrBatch& b, std::vector<float>& pool, std::vector<float>& out) {
  GdrArgs a;
  a.q = b.q();
  a.k = b.k();
  a.v = b.v();
  a.g = b.g.data();
  a.beta = b.beta.data();
  a.cu_seqlens = b.cu.data();
  a.slots = b.slots.data();
  a.has_initial_state = b.has_init.data();
  a.state_pool = pool.data();
  a.out = out.data();
  a.num_seqs = static_cast<int>(b.lengths.size());
  a.num_heads_k = static_cast<int>(b.hk);
  a.num_heads_v = static_cast<int>(b.hv);
  a.head_dim_k = static_cast<int>(b.dk);
  a.head_dim_v = static_cast<int>(b.dv);
  a.qk_stride = b.conv_dim;
  a.v_stride = b.conv_dim;
  a.out_stride = b.hv * b.dv;
  return a;
}

// A HostBlock whose async copies (GdrCopy16 / GdrCopy4) land only at the next GdrCopyWaitAll, as
// late as the GPU may complete them: a phase that reads a buffer before waiting for its copies
// then sees stale data (or the NaN poison) instead of the copy, and the results differ.
struct DeferringHostBlock : HostBlock {
  struct Copy {
    float* dst;
    const float* src;
    int n;
  };
  std::vector<Copy>* pending = nullptr;
  void DeferCopy(float* dst, const float* src, int n) const { pending->push_back({dst, src, n}); }
  void FlushCopies() const {
    for (const Copy& c : *pending) std::copy(c.src, c.src + c.n, c.dst);
    pending->clear();
  }
};

struct EmuMode {
  bool reverse = false;  // items of each phase in reverse order
  bool defer = false;    // async copies land at the wait (DeferringHostBlock)
  int stages = 0;        // scan buffers; 0: what the launcher picks (GdrScanStages)
};

template <class Cfg, class Block>
void EmuChunkedWith(const Block& blk, const GdrBatch& b, int stages, std::vector<float>& pool,
                    std::vector<float>& out) {
  pool = b.pool0;
  out.assign(static_cast<size_t>(b.tokens * b.hv * b.dv), kNaN);
  GdrArgs a = MakeGdrArgs(b, pool, out);
  // Poisoned workspace: a scan read of anything the prep did not write shows up as NaN.
  std::vector<float> ws(static_cast<size_t>(
                            std::max<int64_t>(GdrWorkspaceFloats<Cfg>(b.tokens, a.num_heads_v), 1)),
                        kNaN);
  a.workspace = ws.data();
  a.num_tokens = b.tokens;
  a.scan_stages = stages;
  GdrChooseAccessWidths(&a);
  const Grid3 pg = GdrPrepGrid<Cfg>(a);
  std::vector<float> smem(static_cast<size_t>(GdrPrepLayout<Cfg>(a.head_dim_k).total));
  for (int y = 0; y < pg.y; ++y) {
    for (int x = 0; x < pg.x; ++x) {
      std::fill(smem.begin(), smem.end(), kNaN);
      GdrPrepBlock<Cfg>(blk, x, y, a, smem.data());
    }
  }
  const Grid3 sg = GdrScanGrid<Cfg>(a);
  smem.assign(static_cast<size_t>(GdrScanLayout<Cfg>(a.head_dim_k, stages).total), kNaN);
  for (int z = 0; z < sg.z; ++z) {
    for (int y = 0; y < sg.y; ++y) {
      for (int x = 0; x < sg.x; ++x) {
        std::fill(smem.begin(), smem.end(), kNaN);
        GdrScanBlock<Cfg>(blk, x, y, z, a, smem.data());
      }
    }
  }
}

template <class Cfg>
void EmuChunked(const GdrBatch& b, EmuMode mode, std::vector<float>& pool,
                std::vector<float>& out) {
  const int stages = mode.stages > 0 ? mode.stages : GdrScanStages<Cfg>(static_cast<int>(b.dk));
  if (mode.defer) {
    std::vector<DeferringHostBlock::Copy> pending;
    DeferringHostBlock blk;
    blk.reverse = mode.reverse;
    blk.pending = &pending;
    EmuChunkedWith<Cfg>(blk, b, stages, pool, out);
    EXPECT_TRUE(pending.empty()) << "copies issued and never waited for";
  } else {
    EmuChunkedWith<Cfg>(HostBlock{mode.reverse}, b, stages, pool, out);
  }
}

// Chunked block programs (prep + scan) vs CPU chunked (same chunk size) and CPU recurrent. Both
// sides are fp32 evaluations of the same quantity that differ only in rounding (the GPU form
// regroups V' = U - W S as T diag(β) (V - diag(e^γ) K S) and scales V' rather than K in the state
// update): 2e-5 norm-wise vs the chunked reference, 1e-4 vs the recurrent one (the bound of
// tests/kernels/gated_delta_rule_test.cc). Every scan buffering (one or two stages) runs, in
// forward and reverse item order, with copies landing at once or as late as allowed: all must
// agree bit for bit.
struct GdrCase {
  std::vector<int64_t> lengths;
  int64_t hk, hv, dk, dv;
  float decay_scale;
};
void PrintTo(const GdrCase& c, std::ostream* os) {
  *os << "lens";
  for (int64_t n : c.lengths) *os << "_" << n;
  *os << "_Hk" << c.hk << "_Hv" << c.hv << "_Dk" << c.dk << "_Dv" << c.dv << "_decay"
      << c.decay_scale;
}

class GdrChunkedEmulationTest : public ::testing::TestWithParam<GdrCase> {};

template <class Cfg>
void CheckChunked(const GdrCase& c) {
  const GdrBatch b = MakeGdrBatch(c.lengths, c.hk, c.hv, c.dk, c.dv, 7, c.decay_scale);
  std::vector<float> pool_c, out_c, pool_r, out_r;
  CpuGdr(b, Cfg::kChunk, pool_c, out_c);
  CpuGdr(b, 0, pool_r, out_r);
  std::vector<float> pool_f, out_f;
  EmuChunked<Cfg>(b, {}, pool_f, out_f);
  EXPECT_TRUE(NormwiseClose(out_f, out_c, 2e-5)) << "out vs CPU chunked";
  EXPECT_TRUE(NormwiseClose(pool_f, pool_c, 2e-5)) << "state vs CPU chunked";
  EXPECT_TRUE(NormwiseClose(out_f, out_r, 1e-4)) << "out vs CPU recurrent";
  EXPECT_TRUE(NormwiseClose(pool_f, pool_r, 1e-4)) << "state vs CPU recurrent";
  for (const EmuMode mode : {EmuMode{true, false, 1}, EmuMode{false, true, 1},
                             EmuMode{true, true, 2}, EmuMode{false, false, 2}}) {
    std::vector<float> pool, out;
    EmuChunked<Cfg>(b, mode, pool, out);
    const std::string what = std::string(mode.reverse ? "reverse" : "forward") +
                             (mode.defer ? ", deferred copies" : "") + ", " +
                             std::to_string(mode.stages) + " stage(s)";
    EXPECT_EQ(out, out_f) << what << ": phase items or copies are not independent";
    EXPECT_EQ(pool, pool_f) << what << ": phase items or copies are not independent";
  }
  // Slots not in the batch are untouched.
  for (int64_t slot = 0; slot < b.num_slots; slot += 2) {
    for (int64_t i = 0; i < b.state_elems(); ++i) {
      ASSERT_EQ(pool_f[slot * b.state_elems() + i], b.pool0[slot * b.state_elems() + i]);
    }
  }
}

TEST_P(GdrChunkedEmulationTest, DefaultConfigMatchesCpu) {
  CheckChunked<GdrChunkDefaultConfig>(GetParam());
}
TEST_P(GdrChunkedEmulationTest, Gb10ConfigMatchesCpu) {
  CheckChunked<GdrChunkGb10Config>(GetParam());
}

// Lengths: 0 and 1, around and across chunk multiples, several chunks starting in one token tile
// of the prep (short sequences); Hv/Hk up to 5 (two solve batches of kPrepHeads = 4); odd Dv
// (element-wise v/out paths) and conv rows that are not 16-byte multiples (element-wise q/k);
// the smallest head dims (Dk = 4, Dv = 1) and the largest Dk.
INSTANTIATE_TEST_SUITE_P(Shapes, GdrChunkedEmulationTest,
                         ::testing::Values(GdrCase{{1, 63, 64, 65, 130}, 1, 2, 16, 24, 1.0f},
                                           GdrCase{{19, 0, 70}, 2, 2, 32, 48, 1.0f},
                                           GdrCase{{5, 111}, 1, 3, 12, 40, 1.0f},
                                           GdrCase{{130}, 1, 1, 128, 128, 1.0f},
                                           GdrCase{{150, 3}, 1, 2, 32, 16, 10.0f},
                                           GdrCase{{3, 0, 1, 7, 2, 33, 31, 1, 0}, 1, 5, 8, 20, 1.0f},
                                           GdrCase{{37, 70}, 1, 1, 20, 13, 1.0f},
                                           GdrCase{{96}, 2, 4, 256, 36, 1.0f},
                                           GdrCase{{40, 9}, 1, 2, 4, 1, 1.0f}));

// Workspace rows are written for every token of every sequence, whichever tile their chunk
// starts in, and only once: every row's T diagonal is 1.
TEST(GdrChunkedEmulationTest, PrepWritesEveryRowOnce) {
  using Cfg = GdrChunkDefaultConfig;
  const GdrBatch b = MakeGdrBatch({3, 0, 40, 1, 64, 29}, 1, 2, 16, 8, 9, 1.0f);
  std::vector<float> pool = b.pool0, out(b.tokens * b.hv * b.dv);
  GdrArgs a = MakeGdrArgs(b, pool, out);
  std::vector<float> ws(static_cast<size_t>(GdrWorkspaceFloats<Cfg>(b.tokens, a.num_heads_v)),
                        kNaN);
  a.workspace = ws.data();
  a.num_tokens = b.tokens;
  GdrChooseAccessWidths(&a);
  const Grid3 pg = GdrPrepGrid<Cfg>(a);
  std::vector<float> smem(static_cast<size_t>(GdrPrepLayout<Cfg>(a.head_dim_k).total));
  for (int y = 0; y < pg.y; ++y) {
    for (int x = 0; x < pg.x; ++x) GdrPrepBlock<Cfg>(HostBlock{}, x, y, a, smem.data());
  }
  const GdrWorkspace w = GdrWorkspaceOf<Cfg>(ws.data(), b.tokens, a.num_heads_v);
  for (size_t s = 0; s < b.lengths.size(); ++s) {
    for (int64_t t = b.cu[s]; t < b.cu[s + 1]; ++t) {
      const int64_t r = (t - b.cu[s]) % Cfg::kChunk;
      for (int64_t j = 0; j < b.hv; ++j) {
        const int64_t row = j * b.tokens + t;
        EXPECT_EQ(w.t[row * Cfg::kChunk + r], 1.0f) << "token " << t << " head " << j;
        for (int64_t c = r + 1; c < Cfg::kChunk; ++c) {
          EXPECT_EQ(w.t[row * Cfg::kChunk + c], 0.0f);
          EXPECT_EQ(w.p[row * Cfg::kChunk + c], 0.0f);
        }
        EXPECT_EQ(w.vec[row * 4 + 2], b.beta[t * b.hv + j]);
      }
    }
  }
}

template <class Cfg>
void EmuDecode(const GdrBatch& b, std::vector<float>& pool, std::vector<float>& out) {
  out.assign(static_cast<size_t>(b.tokens * b.hv * b.dv), kNaN);
  GdrArgs a = MakeGdrArgs(b, pool, out);
  a.cu_seqlens = nullptr;
  a.has_initial_state = nullptr;
  const Grid3 g = GdrDecodeGrid<Cfg>(a);
  std::vector<float> smem(static_cast<size_t>(GdrDecodeSmemFloats<Cfg>(a.head_dim_k)));
  for (int z = 0; z < g.z; ++z) {
    for (int y = 0; y < g.y; ++y) {
      for (int x = 0; x < g.x; ++x) {
        std::fill(smem.begin(), smem.end(), kNaN);
        GdrDecodeBlock<Cfg>(HostBlock{(x + y + z) % 2 == 1}, x, y, z, a, smem.data());
      }
    }
  }
}

template <class Cfg>
void CheckDecode(int64_t hk, int64_t hv, int64_t dk, int64_t dv) {
  // 4 sequences of one token each, 3 steps, from random initial states.
  GdrBatch b = MakeGdrBatch({1, 1, 1, 1}, hk, hv, dk, dv, 21, 1.0f, /*mixed_initial=*/false);
  std::vector<float> pool = b.pool0, pool_ref = b.pool0;
  for (int step = 0; step < 3; ++step) {
    b.pool0 = pool_ref;
    std::vector<float> out_ref;
    CpuGdr(b, 0, pool_ref, out_ref);
    std::vector<float> out;
    EmuDecode<Cfg>(b, pool, out);
    // A single step: a few fp32 roundings of sums over Dk (partial sums in another order).
    EXPECT_TRUE(NormwiseClose(out, out_ref, 1e-5)) << "step " << step;
    EXPECT_TRUE(NormwiseClose(pool, pool_ref, 1e-5)) << "step " << step;
    b = MakeGdrBatch({1, 1, 1, 1}, hk, hv, dk, dv, 22 + step, 1.0f, false);
  }
}

TEST(GdrDecodeEmulationTest, MatchesCpuRecurrent) {
  CheckDecode<GdrDecodeDefaultConfig>(1, 3, 32, 48);
  CheckDecode<GdrDecodeDefaultConfig>(2, 2, 128, 128);
  CheckDecode<GdrDecodeGb10Config>(1, 2, 20, 33);
  CheckDecode<GdrDecodeGb10Config>(2, 4, 256, 128);
}

// ---------------------------------------------------------------------------------------------
// M-RoPE

template <class Pos>
void CheckRope(int64_t tokens, int64_t heads, int64_t head_dim, int64_t rotary, int64_t tstride,
               int64_t hstride, double theta, std::array<int, 3> section) {
  const int64_t size = (tokens - 1) * tstride + (heads - 1) * hstride + head_dim;
  const std::vector<float> x0 = RoundedBf16(Uniform(size, 5, -2.0f, 2.0f));
  std::vector<int64_t> pos64(3 * tokens);
  for (int64_t i = 0; i < 3 * tokens; ++i) pos64[i] = (i * 37 + 11) % 5000;
  std::vector<float> ref = x0;
  cpu::ApplyMRope(ref.data(), pos64.data(),
                  {.num_tokens = tokens,
                   .num_heads = heads,
                   .head_dim = head_dim,
                   .rotary_dim = rotary,
                   .token_stride = tstride,
                   .head_stride = hstride,
                   .theta = theta,
                   .mrope_section = section});
  std::vector<Pos> pos(pos64.begin(), pos64.end());
  std::vector<__nv_bfloat16> x = ToBf16(x0);
  RopeArgs<Pos> a;
  a.x = x.data();
  a.positions = pos.data();
  a.num_tokens = tokens;
  a.num_heads = static_cast<int>(heads);
  a.half = static_cast<int>(rotary / 2);
  a.token_stride = tstride;
  a.head_stride = hstride;
  const RopeTables tab = MakeRopeTables(theta, static_cast<int>(rotary), section);
  std::vector<float> smem(static_cast<size_t>(RopeSmemFloats(a.half)));
  for (int64_t t = 0; t < tokens; ++t)
    RopeBlock<Pos>(HostBlock{t % 2 == 1}, t, a, tab, smem.data());
  // Same fp32 operations as the CPU reference, then one rounding: bf16(ref) exactly.
  for (int64_t i = 0; i < size; ++i) {
    ASSERT_EQ(__bfloat162float(x[i]), RoundBf16(ref[i])) << "element " << i;
  }
}

TEST(RopeEmulationTest, MatchesCpuThenBf16) {
  CheckRope<int64_t>(19, 3, 256, 64, 3 * 512, 512, 1e7, {11, 11, 10});
  CheckRope<int32_t>(5, 2, 20, 16, 45, 21, 10000.0, {2, 3, 3});
  CheckRope<int32_t>(1, 4, 128, 128, 512, 128, 1e6, {24, 20, 20});
}

}  // namespace
}  // namespace qwen::kernels::cuda::detail

// Tensor-core flash attention over varlen query tiles (FlashAttention-2 schedule), shared by the
// paged causal prefill (kernels/cuda/paged_attention.h) and the vision encoder's bidirectional
// segment attention (kernels/cuda/vision_attention.h).
//
// One block = 128 query rows: kTileTokens consecutive tokens of one sequence x heads_per_block
// query heads of one KV head's GQA group (row r = token r / heads_per_block, head
// r % heads_per_block), so the group's heads share every K/V tile read (vision: one head, 128
// tokens). K/V tiles of 64 keys stream through a two-stage cp.async ring (tile i+1 loads during
// the whole of tile i; one __syncthreads per tile). S = Q Kᵀ and O += P V run on bf16 mma.sync
// with fp32 accumulators; online softmax in fp32 in the log2 domain with the scale folded into
// the exponent's FMA; one rounding of O / l to bf16.
//
// Tile shapes, by the padded head dim kD (a multiple of 8: 72 runs as 4 k16 steps + 1 k8 step of
// Q Kᵀ and 9 n8 tiles of P V, so nothing is padded to 80):
//   kD <= 80:  4 warps x 2 m16 tiles (32 rows per warp: each K/V fragment read from shared memory
//              feeds 4 mma instead of 2), Q fragments held in registers, 2 blocks per SM;
//   kD = 128:  8 warps x 1 m16 tile, Q in registers;
//   kD = 256:  8 warps x 1 m16 tile, Q re-read from shared memory (the 128 fp32 O registers per
//              thread leave no room for it), ~200 KB of shared memory: one block per SM.
// Shared-memory rows hold an odd number of 16-byte chunks, so the 8 row addresses of every
// ldmatrix phase hit 8 different bank groups (no conflicts, no swizzle).
//
// Devices whose shared memory cannot hold a shape's resident blocks (GB10, ~100 KB per SM: every
// shape) run the previous kernel (FlashAttentionLegacyKernel: 64 rows x 1 head, 32-key tiles,
// ~68 KB at D 256).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/detail/block.h"
#include "kernels/cuda/detail/launch_util.cuh"
#include "kernels/cuda/detail/mma_sm80.cuh"
#include "kernels/cuda/detail/paged_kv_core.h"

namespace qwen::kernels::cuda::detail {

struct FlashArgs {
  const __nv_bfloat16* q = nullptr;  // token t head h at [t * q_stride + h * q_head_stride]
  const __nv_bfloat16* k =
      nullptr;  // paged: page pool; segment: token t head g at [t*kv_stride + g*D]
  const __nv_bfloat16* v = nullptr;
  const int32_t* cu_seqlens = nullptr;   // [S + 1] over the query tokens (segments for vision)
  const int32_t* cached_lens = nullptr;  // [S] (paged only)
  const int32_t* block_table = nullptr;  // [S, bt_stride] (paged only)
  __nv_bfloat16* out = nullptr;          // token t head h at [t * out_stride + h * D]
  int num_seqs = 0;
  int num_heads_kv = 0;
  int group = 1;     // Hq / Hkv
  int head_dim = 0;  // D (<= kD, D % 8 == 0)
  int log2_page = 4;
  int64_t bt_stride = 0;
  int64_t q_stride = 0;
  int64_t q_head_stride = 0;
  int64_t kv_stride = 0;  // segment only
  int64_t out_stride = 0;
  float scale_log2 = 0.0f;  // softmax scale * log2(e)
  // Set by LaunchFlashAttention: a block covers tile_tokens tokens x heads_per_block query heads
  // (heads h0 .. h0 + heads_per_block - 1 of a group, h0 = split * heads_per_block).
  int tile_tokens = 0;
  int heads_per_block = 1;
  int head_splits = 1;  // ceil(group / heads_per_block)
};

// Finds the (sequence, tile) of flattened tile index b, tiles numbered sequence by sequence with
// ceil(len / tile_tokens) tiles each; every lane of the calling warp gets the same answer. Returns
// false when b is past the last tile. Warp-cooperative scan over 32 sequences at a time.
__device__ __forceinline__ bool FlashFindTile(const int32_t* cu, int num_seqs, int64_t b,
                                              int tile_tokens, int* seq, int* tile,
                                              int* num_tiles) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  int64_t base = 0;
  for (int s0 = 0; s0 < num_seqs; s0 += 32) {
    const int s = s0 + lane;
    int nt = 0;
    if (s < num_seqs) nt = (cu[s + 1] - cu[s] + tile_tokens - 1) / tile_tokens;
    int incl = nt;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const int y = __shfl_up_sync(0xffffffffu, incl, o);
      if (lane >= o) incl += y;
    }
    const int total = __shfl_sync(0xffffffffu, incl, 31);
    if (b < base + total) {
      const unsigned hit = __ballot_sync(0xffffffffu, s < num_seqs && b < base + incl);
      const int src = __ffs(static_cast<int>(hit)) - 1;
      const int excl = __shfl_sync(0xffffffffu, incl - nt, src);
      *num_tiles = __shfl_sync(0xffffffffu, nt, src);
      *seq = s0 + src;
      *tile = static_cast<int>(b - base - excl);
      return true;
    }
    base += total;
  }
  return false;
}

// Causal tiles differ in cost (tile i of a sequence sees about i + 1 key tiles), so the paged
// kernel numbers them rank-major: rank r holds the r-th longest tile of every sequence with more
// than r tiles, sequences in order; the longest tiles of all sequences start first and the
// short ones fill the tail. Returns false when b is past the last tile. Warp-cooperative: a
// binary search over the rank of count(r) = sum_s min(tiles_s, r), the number of tiles of ranks
// below r.
__device__ __forceinline__ bool FlashFindTileByRank(const int32_t* cu, int num_seqs, int64_t b,
                                                    int tile_tokens, int* seq, int* tile,
                                                    int* num_tiles) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  auto tiles_of = [&](int s) {
    return s < num_seqs ? (cu[s + 1] - cu[s] + tile_tokens - 1) / tile_tokens : 0;
  };
  // count(r); count(max tiles) is the total.
  auto count_below = [&](int r) {  // < 2^31: at most N + S tiles
    int c = 0;
    for (int s0 = 0; s0 < num_seqs; s0 += 32) c += MinOf(tiles_of(s0 + lane), r);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) c += __shfl_xor_sync(0xffffffffu, c, o);
    return c;
  };
  int max_tiles = 0;
  for (int s0 = 0; s0 < num_seqs; s0 += 32) max_tiles = MaxOf(max_tiles, tiles_of(s0 + lane));
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    max_tiles = MaxOf(max_tiles, __shfl_xor_sync(0xffffffffu, max_tiles, o));
  }
  if (b >= count_below(max_tiles)) return false;
  int lo = 0, hi = max_tiles;  // count(lo) <= b < count(hi)
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (count_below(mid) <= b) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  // The (b - count(lo))-th sequence with more than lo tiles.
  int64_t j = b - count_below(lo);
  for (int s0 = 0; s0 < num_seqs; s0 += 32) {
    const int nt = tiles_of(s0 + lane);
    const unsigned has = __ballot_sync(0xffffffffu, nt > lo);
    const int n = __popc(has);
    if (j < n) {
      unsigned m = has;
      for (int i = 0; i < j; ++i) m &= m - 1;  // drop the j lowest set bits
      const int src = __ffs(static_cast<int>(m)) - 1;
      *seq = s0 + src;
      *num_tiles = __shfl_sync(0xffffffffu, nt, src);
      *tile = *num_tiles - 1 - lo;
      return true;
    }
    j -= n;
  }
  return false;  // not reached: count(max tiles) > b
}

// Block shape of FlashAttentionKernel for padded head dim kD (see the file comment).
template <int kD>
struct FlashTile {
  static_assert(kD % 8 == 0 && kD >= 16 && kD <= 256, "head dim tile");
  static constexpr bool kSmallD = kD <= 80;
  static constexpr int kWarps = kSmallD ? 4 : 8;
  static constexpr int kMT = kSmallD ? 2 : 1;  // m16 tiles per warp
  static constexpr int kRows = kWarps * kMT * 16;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kN = 64;  // keys per K/V tile
  static constexpr int kMinBlocks = kSmallD ? 2 : 1;
  static constexpr bool kQInRegs = kD <= 128;
  static constexpr int kChunks = kD / 8;            // 16-byte chunks per row
  static constexpr int kLd = (kChunks | 1) * 8;     // row pitch in elements: odd chunk count
  static constexpr int kK16 = kD / 16;              // full k16 steps of Q Kᵀ
  static constexpr bool kTail8 = kD % 16 != 0;      // plus one k8 step
  static constexpr int kNT = kD / 8;                // n8 tiles of O
  static constexpr int kStage = kN * kLd;           // elements of one K (or V) tile
  static constexpr int kSmemBytes = (kRows + 4 * kN) * kLd * 2;  // Q + 2 stages of K and V
  static_assert(kRows == 128, "the launcher's row packing assumes 128 rows");
};

// kPaged: causal attention of new tokens over a paged cache (query token i of sequence s at
// absolute position cached_lens[s] + i sees keys [0, that position]); otherwise bidirectional
// attention inside the segment (keys = the segment's own tokens of k/v).
template <int kD, bool kPaged>
__global__ void __launch_bounds__(FlashTile<kD>::kThreads, FlashTile<kD>::kMinBlocks)
    FlashAttentionKernel(const FlashArgs a) {
  using T = FlashTile<kD>;
  constexpr int kMT = T::kMT, kN = T::kN, kLd = T::kLd, kChunks = T::kChunks;
  constexpr int kThreads = T::kThreads, kK16 = T::kK16, kNT = T::kNT;
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(DynamicSmem());
  __nv_bfloat16* sK = sQ + T::kRows * kLd;  // stage st at sK + st * kStage
  __nv_bfloat16* sV = sK + 2 * T::kStage;

  // Block -> (query tile, KV head, head split); consecutive blocks share the tile, so the
  // longest (causal) tiles of every head and sequence start first.
  const int head_blocks = a.num_heads_kv * a.head_splits;
  const int hb = static_cast<int>(blockIdx.x % static_cast<unsigned>(head_blocks));
  const int64_t tile_lin = blockIdx.x / static_cast<unsigned>(head_blocks);
  int seq = 0, tile = 0, num_tiles = 0;
  if constexpr (kPaged) {
    if (!FlashFindTileByRank(a.cu_seqlens, a.num_seqs, tile_lin, a.tile_tokens, &seq, &tile,
                             &num_tiles)) {
      return;
    }
  } else {  // equal-cost tiles: sequence by sequence (neighbouring blocks share K/V in L2)
    if (!FlashFindTile(a.cu_seqlens, a.num_seqs, tile_lin, a.tile_tokens, &seq, &tile,
                       &num_tiles)) {
      return;
    }
  }
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int g8 = lane >> 2, t4 = lane & 3;
  const int g = hb / a.head_splits;
  const int hpb = a.heads_per_block;
  const int h0 = (hb - g * a.head_splits) * hpb;
  const int nh = MinOf(hpb, a.group - h0);  // heads of this block
  const int dr = a.head_dim;
  const int64_t q_begin = a.cu_seqlens[seq];
  const int len = a.cu_seqlens[seq + 1] - a.cu_seqlens[seq];
  const int tok0 = tile * a.tile_tokens;
  const int ntok = MinOf(a.tile_tokens, len - tok0);
  // Keys [0, kv_end); token i of the tile sees keys <= key_first + i (causal) or all of them.
  int64_t key_first = 0, kv_end = 0;
  const int32_t* bt_row = nullptr;
  if constexpr (kPaged) {
    key_first = static_cast<int64_t>(a.cached_lens[seq]) + tok0;
    kv_end = key_first + ntok;
    bt_row = a.block_table + seq * a.bt_stride;
  } else {
    kv_end = len;
    key_first = kv_end - 1;
  }

  // Q rows (zeros for idle rows and padded dims).
  for (int c = tid; c < T::kRows * kChunks; c += kThreads) {
    const int r = c / kChunks, ch = c - r * kChunks;
    const int tl = r / hpb, hi = r - tl * hpb;
    const bool ok = tl < ntok && hi < nh && ch * 8 < dr;
    const __nv_bfloat16* src = a.q;
    if (ok) {
      src = a.q + (q_begin + tok0 + tl) * a.q_stride +
            static_cast<int64_t>(g * a.group + h0 + hi) * a.q_head_stride + ch * 8;
    }
    CpAsync16(sQ + r * kLd + ch * 8, src, ok);
  }
  // Keys k0 .. k0 + kN - 1 of K and V into stage st (zeros past kv_end and in the padded dims).
  // Thread tid copies 16-byte chunk tid % kChunks of rows tid / kChunks + i * kRowsPerPass, so
  // the per-tile address work is one add per row (threads past kRowsPerPass * kChunks idle).
  constexpr int kRowsPerPass = kThreads / kChunks;
  constexpr int kPasses = (kN + kRowsPerPass - 1) / kRowsPerPass;
  const int ld_r0 = tid / kChunks, ld_ch = tid - ld_r0 * kChunks;
  const bool ld_active = ld_r0 < kRowsPerPass;
  const bool ld_dim_ok = ld_ch * 8 < dr;
  auto load_kv = [&](int st, int64_t k0) {
    if (!ld_active) return;
    __nv_bfloat16* dk = sK + st * T::kStage + ld_r0 * kLd + ld_ch * 8;
    __nv_bfloat16* dv = sV + st * T::kStage + ld_r0 * kLd + ld_ch * 8;
    const __nv_bfloat16* kt = a.k + ld_ch * 8;
    const __nv_bfloat16* vt = a.v + ld_ch * 8;
    if constexpr (!kPaged) {
      const int64_t base = (q_begin + k0 + ld_r0) * a.kv_stride + static_cast<int64_t>(g) * dr;
      kt += base;
      vt += base;
    }
    const int rows_left = static_cast<int>(MinOf<int64_t>(kv_end - k0, kN));
    const int64_t pass_stride = kPaged ? 0 : kRowsPerPass * a.kv_stride;
#pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      const int r = ld_r0 + i * kRowsPerPass;
      if (kN % kRowsPerPass != 0 && i == kPasses - 1 && r >= kN) break;
      const bool ok = ld_dim_ok && r < rows_left;
      const __nv_bfloat16* ks = kt;
      const __nv_bfloat16* vs = vt;
      if constexpr (kPaged) {
        const int64_t off =
            ok ? PagedKvOffset(bt_row, k0 + r, a.log2_page, a.num_heads_kv, g, dr) : 0;
        ks += off;
        vs += off;
      }
      CpAsync16(dk + i * kRowsPerPass * kLd, ks, ok);
      CpAsync16(dv + i * kRowsPerPass * kLd, vs, ok);
      kt += pass_stride;  // rows past the segment only form addresses; nothing reads them
      vt += pass_stride;
    }
  };
  load_kv(0, 0);
  CpAsyncCommit();

  // This thread's rows: m-tile mt, half hf -> block row (warp * kMT + mt) * 16 + g8 + 8 hf.
  int64_t key_lim[kMT][2];  // last key the row sees
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
      const int r = (warp * kMT + mt) * 16 + g8 + hf * 8;
      key_lim[mt][hf] = kPaged ? MinOf<int64_t>(key_first + r / hpb, kv_end - 1) : kv_end - 1;
    }
  }
  float o[kMT][kNT][4];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int i = 0; i < kNT; ++i) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.0f;
  }
  float m_row[kMT][2], l_row[kMT][2];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
    m_row[mt][0] = m_row[mt][1] = -INFINITY;
    l_row[mt][0] = l_row[mt][1] = 0.0f;
  }
  // Q fragments (registers when they fit): k16 steps, then the k8 tail of odd-multiple-of-8 dims.
  uint32_t qf[T::kQInRegs ? kMT : 1][T::kQInRegs ? kK16 : 1][4];
  uint32_t qt[kMT][2];
  const __nv_bfloat16* sQw = sQ + warp * kMT * 16 * kLd;  // this warp's rows
  auto load_q_k16 = [&](uint32_t (&f)[4], int mt, int kk) {
    LdMatrixX4(f, sQw + (mt * 16 + (lane & 15)) * kLd + kk * 16 + (lane >> 4) * 8);
  };
  auto load_q_tail = [&]() {
    if constexpr (T::kTail8) {
      if constexpr (kMT == 2) {
        uint32_t f[4];  // matrices: rows 0-7, 8-15 of m-tile 0, then of m-tile 1
        LdMatrixX4(f, sQw + lane * kLd + kK16 * 16);
        qt[0][0] = f[0];
        qt[0][1] = f[1];
        qt[1][0] = f[2];
        qt[1][1] = f[3];
      } else {
        uint32_t f[2];
        LdMatrixX2(f, sQw + (lane & 15) * kLd + kK16 * 16);
        qt[0][0] = f[0];
        qt[0][1] = f[1];
      }
    }
  };

  const int n_tiles = static_cast<int>(CeilDiv<int64_t>(kv_end, kN));
  const float sl2 = a.scale_log2;
  for (int it = 0; it < n_tiles; ++it) {
    const int64_t k0 = static_cast<int64_t>(it) * kN;
    CpAsyncWait<0>();
    __syncthreads();  // tile it (and Q) visible; every warp is done with tile it-1's stage
    if (it == 0) {
      if constexpr (T::kQInRegs) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
          for (int kk = 0; kk < kK16; ++kk) load_q_k16(qf[mt][kk], mt, kk);
        }
        load_q_tail();
      }
    }
    if (it + 1 < n_tiles) load_kv((it + 1) & 1, k0 + kN);
    CpAsyncCommit();
    const __nv_bfloat16* cK = sK + (it & 1) * T::kStage;
    const __nv_bfloat16* cV = sV + (it & 1) * T::kStage;

    // S = Q Kᵀ: this warp's kMT x 16 rows x kN keys.
    float s[kMT][kN / 8][4];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
      for (int i = 0; i < kN / 8; ++i) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.0f;
    }
#pragma unroll
    for (int kk = 0; kk < kK16; ++kk) {
      uint32_t qa_smem[T::kQInRegs ? 1 : kMT][4];
      if constexpr (!T::kQInRegs) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) load_q_k16(qa_smem[mt], mt, kk);
      }
#pragma unroll
      for (int n2 = 0; n2 < kN / 16; ++n2) {
        uint32_t kb[4];  // keys n2*16 + 0..7 (dims lo, hi), keys + 8..15 (dims lo, hi)
        LdMatrixX4(kb, cK + (n2 * 16 + (lane & 7) + ((lane >> 4) << 3)) * kLd + kk * 16 +
                           ((lane >> 3) & 1) * 8);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          if constexpr (T::kQInRegs) {
            MmaBf16(s[mt][2 * n2], qf[mt][kk], kb[0], kb[1]);
            MmaBf16(s[mt][2 * n2 + 1], qf[mt][kk], kb[2], kb[3]);
          } else {
            MmaBf16(s[mt][2 * n2], qa_smem[mt], kb[0], kb[1]);
            MmaBf16(s[mt][2 * n2 + 1], qa_smem[mt], kb[2], kb[3]);
          }
        }
      }
    }
    if constexpr (T::kTail8) {
      if constexpr (!T::kQInRegs) load_q_tail();
#pragma unroll
      for (int n4 = 0; n4 < kN / 32; ++n4) {
        uint32_t kb[4];  // dims kK16*16 .. +7 of keys n4*32 + 8j .. + 7, j = 0..3
        LdMatrixX4(kb, cK + (n4 * 32 + lane) * kLd + kK16 * 16);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
#pragma unroll
          for (int mt = 0; mt < kMT; ++mt) MmaBf16K8(s[mt][4 * n4 + j], qt[mt], kb[j]);
        }
      }
    }

    // Mask (only the tiles that reach past some row's last key), then the online softmax of
    // rows (mt, hf): regs 2hf, 2hf + 1 of every n8 tile. m is kept in the scaled log2 domain;
    // max(s) * c == max(s * c) since c > 0, and p = 2^(s c - m) is one FMA + one EX2.
    if (k0 + kN - 1 > key_first) {
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
          // Last visible key relative to k0, clamped to [-1, kN] (int compares below).
          const int lim =
              static_cast<int>(MaxOf<int64_t>(-1, MinOf<int64_t>(key_lim[mt][hf] - k0, kN)));
#pragma unroll
          for (int nt = 0; nt < kN / 8; ++nt) {
            if (nt * 8 + 2 * t4 > lim) s[mt][nt][2 * hf] = -INFINITY;
            if (nt * 8 + 2 * t4 + 1 > lim) s[mt][nt][2 * hf + 1] = -INFINITY;
          }
        }
      }
    }
    float alpha[kMT][2];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
      for (int hf = 0; hf < 2; ++hf) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < kN / 8; ++nt) {
          mx = fmaxf(mx, fmaxf(s[mt][nt][2 * hf], s[mt][nt][2 * hf + 1]));
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_old = m_row[mt][hf];
        const float m_new = fmaxf(m_old, mx * sl2);
        const float m_use = m_new == -INFINITY ? 0.0f : m_new;  // fully masked so far: p = 0
        alpha[mt][hf] = m_old == m_new ? 1.0f : Exp2Approx(m_old - m_use);
        m_row[mt][hf] = m_new;
        float sum = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kN / 8; ++nt) {
          s[mt][nt][2 * hf] = Exp2Approx(fmaf(s[mt][nt][2 * hf], sl2, -m_use));
          s[mt][nt][2 * hf + 1] = Exp2Approx(fmaf(s[mt][nt][2 * hf + 1], sl2, -m_use));
          sum += s[mt][nt][2 * hf] + s[mt][nt][2 * hf + 1];
        }
        // This thread's columns only; the quad is summed at the end.
        l_row[mt][hf] = l_row[mt][hf] * alpha[mt][hf] + sum;
      }
    }
    // Rescale O unless no row of the warp got a new maximum (alpha == 1 exactly: skipping the
    // multiply changes nothing, and after the first tiles it is the common case).
    bool rescale = false;
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) rescale = rescale || alpha[mt][0] != 1.0f || alpha[mt][1] != 1.0f;
    if (__any_sync(0xffffffffu, rescale)) {
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
        for (int dt = 0; dt < kNT; ++dt) {
          o[mt][dt][0] *= alpha[mt][0];
          o[mt][dt][1] *= alpha[mt][0];
          o[mt][dt][2] *= alpha[mt][1];
          o[mt][dt][3] *= alpha[mt][1];
        }
      }
    }

    // O += P V: P from the S accumulators (C layout of two n8 tiles = A layout of one k16 step).
#pragma unroll
    for (int kc = 0; kc < kN / 16; ++kc) {
      uint32_t pa[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        pa[mt][0] = PackBf16x2(s[mt][2 * kc][0], s[mt][2 * kc][1]);
        pa[mt][1] = PackBf16x2(s[mt][2 * kc][2], s[mt][2 * kc][3]);
        pa[mt][2] = PackBf16x2(s[mt][2 * kc + 1][0], s[mt][2 * kc + 1][1]);
        pa[mt][3] = PackBf16x2(s[mt][2 * kc + 1][2], s[mt][2 * kc + 1][3]);
      }
      const __nv_bfloat16* vrow = cV + (kc * 16 + (lane & 15)) * kLd;
#pragma unroll
      for (int d2 = 0; d2 < kNT / 2; ++d2) {
        uint32_t vb[4];
        LdMatrixX4Trans(vb, vrow + d2 * 16 + (lane >> 4) * 8);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          MmaBf16(o[mt][2 * d2], pa[mt], vb[0], vb[1]);
          MmaBf16(o[mt][2 * d2 + 1], pa[mt], vb[2], vb[3]);
        }
      }
      if constexpr (kNT % 2 == 1) {
        uint32_t vb[2];  // keys kc*16 + 0..7, 8..15 of the last 8 dims
        LdMatrixX2Trans(vb, vrow + (kNT - 1) * 8);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) MmaBf16(o[mt][kNT - 1], pa[mt], vb[0], vb[1]);
      }
    }
  }
  CpAsyncWait<0>();

#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
      float l = l_row[mt][hf];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const int r = (warp * kMT + mt) * 16 + g8 + hf * 8;
      const int tl = r / hpb, hi = r - tl * hpb;
      if (tl >= ntok || hi >= nh) continue;
      const float inv = 1.0f / l;
      __nv_bfloat16* dst = a.out + (q_begin + tok0 + tl) * a.out_stride +
                           static_cast<int64_t>(g * a.group + h0 + hi) * dr + 2 * t4;
#pragma unroll
      for (int dt = 0; dt < kNT; ++dt) {
        if (dt * 8 < dr) {
          *reinterpret_cast<__nv_bfloat162*>(dst + dt * 8) = __floats2bfloat162_rn(
              o[mt][dt][2 * hf] * inv, o[mt][dt][2 * hf + 1] * inv);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The previous kernel, kept for devices with less shared memory per block than FlashTile needs:
// one block = 64 query rows of one head, 4 warps of 16 rows, 32-key K/V tiles (K of the next tile
// loads during P V, V of this tile during Q Kᵀ and the softmax), Q fragments re-read per tile.

inline constexpr int kFlashLegacyM = 64;
inline constexpr int kFlashLegacyN = 32;
inline constexpr int kFlashLegacyThreads = 128;

template <int kD>
constexpr int FlashLegacySmemBytes() {
  return (kFlashLegacyM + 2 * kFlashLegacyN) * (kD + 8) * 2;
}

template <int kD, bool kPaged>
__global__ void __launch_bounds__(kFlashLegacyThreads) FlashAttentionLegacyKernel(const FlashArgs a) {
  constexpr int kM = kFlashLegacyM, kN = kFlashLegacyN, kLd = kD + 8, kChunks = kD / 8;
  static_assert(kD % 16 == 0 && kD <= 256, "head dim tile");
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(DynamicSmem());
  __nv_bfloat16* sK = sQ + kM * kLd;
  __nv_bfloat16* sV = sK + kN * kLd;

  int seq = 0, tile = 0, num_tiles = 0;
  if (!FlashFindTile(a.cu_seqlens, a.num_seqs, blockIdx.x, kM, &seq, &tile, &num_tiles)) return;
  tile = num_tiles - 1 - tile;  // the longest (causal) tiles of a sequence start first
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int g8 = lane >> 2, t4 = lane & 3;
  const int hq = static_cast<int>(blockIdx.y);
  const int g = hq / a.group;
  const int dr = a.head_dim;
  const int64_t q_begin = a.cu_seqlens[seq];
  const int len = a.cu_seqlens[seq + 1] - a.cu_seqlens[seq];
  const int row0 = tile * kM;
  const int rows = MinOf(kM, len - row0);
  int64_t first_pos = 0,
          kv_end = 0;  // keys [0, kv_end); row i of the tile sees keys <= first_pos + i
  const int32_t* bt_row = nullptr;
  if constexpr (kPaged) {
    first_pos = static_cast<int64_t>(a.cached_lens[seq]) + row0;
    kv_end = first_pos + rows;
    bt_row = a.block_table + seq * a.bt_stride;
  } else {
    kv_end = len;
  }

  const __nv_bfloat16* q_base = a.q + (q_begin + row0) * a.q_stride + hq * a.q_head_stride;
  for (int c = tid; c < kM * kChunks; c += kFlashLegacyThreads) {
    const int r = c / kChunks, ch = c - r * kChunks;
    const bool ok = r < rows && ch * 8 < dr;
    CpAsync16(sQ + r * kLd + ch * 8, ok ? q_base + r * a.q_stride + ch * 8 : a.q, ok);
  }
  // Rows k0 .. k0 + kN - 1 of K or V (zeros past kv_end and in the padded dims).
  auto load_kv = [&](__nv_bfloat16* dst, const __nv_bfloat16* src_base, int64_t k0) {
    for (int c = tid; c < kN * kChunks; c += kFlashLegacyThreads) {
      const int r = c / kChunks, ch = c - r * kChunks;
      const int64_t key = k0 + r;
      const bool ok = key < kv_end && ch * 8 < dr;
      const __nv_bfloat16* src = src_base;
      if (ok) {
        if constexpr (kPaged) {
          src = src_base + PagedKvOffset(bt_row, key, a.log2_page, a.num_heads_kv, g, dr) + ch * 8;
        } else {
          src = src_base + (q_begin + key) * a.kv_stride + static_cast<int64_t>(g) * dr + ch * 8;
        }
      }
      CpAsync16(dst + r * kLd + ch * 8, src, ok);
    }
  };
  load_kv(sK, a.k, 0);
  CpAsyncCommit();

  float o[kD / 8][4];
#pragma unroll
  for (int i = 0; i < kD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m_row[2] = {-INFINITY, -INFINITY}, l_row[2] = {0.0f, 0.0f};
  const int n_tiles = static_cast<int>(CeilDiv<int64_t>(kv_end, kN));
  const int qrow_lo = warp * 16 + g8;  // this thread's rows: qrow_lo and qrow_lo + 8

  for (int it = 0; it < n_tiles; ++it) {
    const int64_t k0 = static_cast<int64_t>(it) * kN;
    CpAsyncWait<0>();
    __syncthreads();  // K(it) (and Q) visible; every warp is done with P V(it-1): sV is free
    load_kv(sV, a.v, k0);
    CpAsyncCommit();

    float s[kN / 8][4];
#pragma unroll
    for (int i = 0; i < kN / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
      uint32_t qa[4];
      LdMatrixX4(qa, sQ + (warp * 16 + (lane & 15)) * kLd + kk * 16 + (lane >> 4) * 8);
#pragma unroll
      for (int n2 = 0; n2 < kN / 16; ++n2) {
        uint32_t kb[4];
        LdMatrixX4(kb, sK + (n2 * 16 + (lane & 7) + ((lane >> 4) << 3)) * kLd + kk * 16 +
                           ((lane >> 3) & 1) * 8);
        MmaBf16(s[2 * n2], qa, kb[0], kb[1]);
        MmaBf16(s[2 * n2 + 1], qa, kb[2], kb[3]);
      }
    }

    bool need_mask = k0 + kN > kv_end;
    if constexpr (kPaged) need_mask = need_mask || k0 + kN - 1 > first_pos;
#pragma unroll
    for (int nt = 0; nt < kN / 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = s[nt][e] * a.scale_log2;
        if (need_mask) {
          const int64_t key = k0 + nt * 8 + 2 * t4 + (e & 1);
          bool masked = key >= kv_end;
          if constexpr (kPaged) masked = masked || key > first_pos + qrow_lo + (e >> 1) * 8;
          if (masked) x = -INFINITY;
        }
        s[nt][e] = x;
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < kN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m_row[r], mx);
      const float m_use = m_new == -INFINITY ? 0.0f : m_new;  // fully masked so far: p = 0
      const float alpha = exp2f(m_row[r] - m_use);
      m_row[r] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < kN / 8; ++nt) {
        s[nt][2 * r] = exp2f(s[nt][2 * r] - m_use);
        s[nt][2 * r + 1] = exp2f(s[nt][2 * r + 1] - m_use);
        sum += s[nt][2 * r] + s[nt][2 * r + 1];
      }
      l_row[r] = l_row[r] * alpha + sum;  // this thread's columns; the quad is summed at the end
#pragma unroll
      for (int dt = 0; dt < kD / 8; ++dt) {
        o[dt][2 * r] *= alpha;
        o[dt][2 * r + 1] *= alpha;
      }
    }

    CpAsyncWait<0>();
    __syncthreads();  // V(it) visible; every warp is done with Q Kᵀ(it): sK is free
    if (it + 1 < n_tiles) load_kv(sK, a.k, k0 + kN);
    CpAsyncCommit();

#pragma unroll
    for (int kc = 0; kc < kN / 16; ++kc) {
      uint32_t pa[4];
      pa[0] = PackBf16x2(s[2 * kc][0], s[2 * kc][1]);
      pa[1] = PackBf16x2(s[2 * kc][2], s[2 * kc][3]);
      pa[2] = PackBf16x2(s[2 * kc + 1][0], s[2 * kc + 1][1]);
      pa[3] = PackBf16x2(s[2 * kc + 1][2], s[2 * kc + 1][3]);
#pragma unroll
      for (int d2 = 0; d2 < kD / 16; ++d2) {
        uint32_t vb[4];
        LdMatrixX4Trans(vb, sV + (kc * 16 + (lane & 15)) * kLd + d2 * 16 + (lane >> 4) * 8);
        MmaBf16(o[2 * d2], pa, vb[0], vb[1]);
        MmaBf16(o[2 * d2 + 1], pa, vb[2], vb[3]);
      }
    }
  }
  CpAsyncWait<0>();

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float l = l_row[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const int row = qrow_lo + r * 8;
    if (row >= rows) continue;
    const float inv = 1.0f / l;
    __nv_bfloat16* dst =
        a.out + (q_begin + row0 + row) * a.out_stride + static_cast<int64_t>(hq) * dr + 2 * t4;
#pragma unroll
    for (int dt = 0; dt < kD / 8; ++dt) {
      if (dt * 8 < dr) {
        *reinterpret_cast<__nv_bfloat162*>(dst + dt * 8) =
            __floats2bfloat162_rn(o[dt][2 * r] * inv, o[dt][2 * r + 1] * inv);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Launch. The new kernel packs a GQA group's heads into the block's 128 rows: heads_per_block =
// min(group, 128) heads x 128 / heads_per_block tokens (group 4: 32 tokens x 4 heads). The grid
// is an upper bound of the tile count (ceil(N / tile_tokens) + S) x the head blocks; blocks past
// the last tile exit.

// Sets the row packing of `a` (tile_tokens, heads_per_block, head_splits) and returns the grid
// size of FlashAttentionKernel<kD, *> (host; the CPU emulation test uses it too).
template <int kD>
int64_t FlashGridBlocks(FlashArgs* a, int64_t num_tokens) {
  using T = FlashTile<kD>;
  a->heads_per_block = MinOf(a->group, T::kRows);
  a->head_splits = CeilDiv(a->group, a->heads_per_block);
  a->tile_tokens = T::kRows / a->heads_per_block;
  const int64_t tiles = CeilDiv<int64_t>(num_tokens, a->tile_tokens) + a->num_seqs;
  return tiles * a->num_heads_kv * a->head_splits;
}

#if !defined(QWEN_SIMT_EMULATION)
// true: the previous kernel everywhere (a fallback to flip if the new one ever misbehaves).
inline constexpr bool kFlashUseLegacy = false;

// kLegacyD is the padded head dim of the previous kernel (a multiple of 16), used when the device
// cannot give FlashTile<kD> its shared memory.
template <int kD, int kLegacyD, bool kPaged>
cudaError_t LaunchFlashAttention(FlashArgs a, int64_t num_tokens, int num_heads_q,
                                 cudaStream_t stream) {
  using T = FlashTile<kD>;
  int device = 0, optin = 0, per_sm = 0;
  QWEN_CUDA_TRY(cudaGetDevice(&device));
  QWEN_CUDA_TRY(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  QWEN_CUDA_TRY(
      cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device));
  // The tile shapes assume kMinBlocks resident blocks per SM (1 KB of each block's shared memory
  // is reserved by the system); with fewer, the previous kernel keeps more warps busy.
  if (kFlashUseLegacy || T::kSmemBytes > optin ||
      T::kMinBlocks * (T::kSmemBytes + 1024) > per_sm) {
    constexpr int kSmem = FlashLegacySmemBytes<kLegacyD>();
    QWEN_CUDA_TRY(PrepareDynamicSmem(
        reinterpret_cast<const void*>(&FlashAttentionLegacyKernel<kLegacyD, kPaged>), kSmem));
    const int64_t tiles = CeilDiv<int64_t>(num_tokens, kFlashLegacyM) + a.num_seqs;
    QWEN_CUDA_CHECK_ARG(tiles <= 0x7fffffff && num_heads_q <= 65535);
    FlashAttentionLegacyKernel<kLegacyD, kPaged>
        <<<dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(num_heads_q)),
           kFlashLegacyThreads, kSmem, stream>>>(a);
    return cudaGetLastError();
  }
  const int64_t blocks = FlashGridBlocks<kD>(&a, num_tokens);
  QWEN_CUDA_CHECK_ARG(blocks <= 0x7fffffff);
  QWEN_CUDA_TRY(PrepareDynamicSmem(
      reinterpret_cast<const void*>(&FlashAttentionKernel<kD, kPaged>), T::kSmemBytes));
  FlashAttentionKernel<kD, kPaged>
      <<<static_cast<unsigned>(blocks), T::kThreads, T::kSmemBytes, stream>>>(a);
  return cudaGetLastError();
}
#endif  // !QWEN_SIMT_EMULATION

}  // namespace qwen::kernels::cuda::detail

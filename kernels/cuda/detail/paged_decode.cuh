// Decode kernel of the paged attention (kernels/cuda/paged_attention.h): one new token per
// sequence, memory-bound (every K/V byte of the context is read once).
//
// Block (split r, KV head g x head tile, sequence s), W warps (W chosen by the launcher: 4, or 8
// when there are few (sequence, KV head) pairs): the kG query heads of one tile of KV head g (GQA)
// share every K/V read. The context [0, cached_lens[s] + 1) is divided among the blocks of a
// thread-block cluster (grid.x = cluster size C <= 8, flash-decoding), and each block's range in
// steps of kT tokens is dealt round-robin to its warps. Every warp runs on its own, with no block
// barrier until the end: a kDecodeStages-deep cp.async ring in its own shared memory keeps
// kDecodeStages - 1 steps of K and V in flight while it computes on the oldest. A lane copies and
// later reads only its own 16-byte chunks, so the ring needs no warp synchronisation either.
//
// Lane layout: kTg = kD / 8 lanes per token row (lane chunk c = lane % kTg holds dims 8c .. 8c+7),
// kTpw = 32 / kTg tokens per round, kR rounds per step. Per step a lane forms kN0 = kR x kG partial
// dot products (round r, head h at index r * kG + h); a reduce-scatter butterfly over the kTg
// lanes of a token group (kN0 - 1 shuffles instead of kN0 log2(kTg)) leaves each lane with the
// full score of index c >> kDupShift (lanes differing only in the low kDupShift bits hold the same
// one). The online softmax then works on one score per lane (per-head maximum over the step by a
// butterfly over the lane bits that are not head bits), and p / alpha go to the other lanes
// through a per-warp scratch in shared memory for acc = acc * alpha + sum_j p_j v_j (fp32 p).
// The warps' (m, l, acc) are merged in shared memory, then the cluster's blocks' through
// distributed shared memory (cluster.map_shared_rank); the output is written once as bf16.
#pragma once

#if !defined(QWEN_SIMT_EMULATION)
#include <cooperative_groups.h>
#endif
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/detail/block.h"
#include "kernels/cuda/detail/mma_sm80.cuh"
#include "kernels/cuda/detail/paged_kv_core.h"

namespace qwen::kernels::cuda::detail {

inline constexpr int kDecodeMaxSplits = 8;  // cluster size (the portable maximum)
inline constexpr int kDecodeStages = 3;     // steps per warp ring (kDecodeStages - 1 in flight)
inline constexpr int kDecodeMaxWarps = 8;
inline constexpr int kDecodeScratchFloats = 2 * 40;  // per warp, 2 buffers: 32 p + 8 alpha

struct DecodeArgs {
  const __nv_bfloat16* q = nullptr;
  const __nv_bfloat16* k_pages = nullptr;
  const __nv_bfloat16* v_pages = nullptr;
  const int32_t* cu_seqlens = nullptr;
  const int32_t* cached_lens = nullptr;
  const int32_t* block_table = nullptr;
  __nv_bfloat16* out = nullptr;
  int num_heads_kv = 0;
  int group = 1;       // Hq / Hkv
  int head_tiles = 1;  // ceil(group / kG)
  int log2_page = 4;
  int64_t bt_stride = 0;
  int64_t q_stride = 0;
  int64_t q_head_stride = 0;
  int64_t out_stride = 0;
  float scale_log2 = 0.0f;
};

constexpr int DecodeLog2(int x) { return x <= 1 ? 0 : 1 + DecodeLog2(x / 2); }

// Step shape and shared-memory budget of PagedDecodeKernel<kD, kG> (see the file comment). A step
// is kT = min(32 / kG, 2048 / kD) tokens: at most 8 KB of K + V per ring stage, and kN0 <= kTg
// partial scores per lane, so each lane ends the butterfly with exactly one score.
template <int kD, int kG>
struct DecodeShape {
  static constexpr int kTg = kD / 8;
  static constexpr int kTpw = 32 / kTg;
  static constexpr int kT = (32 / kG) < (2048 / kD) ? 32 / kG : 2048 / kD;
  static constexpr int kR = kT / kTpw;
  static constexpr int kN0 = kR * kG;
  static constexpr int kDupShift = DecodeLog2(kTg / kN0);
  static constexpr int kDupMask = (1 << kDupShift) - 1;
  static constexpr int kHeadMask = (kG - 1) << kDupShift;
  static constexpr int kTokenMask = 31 & ~kHeadMask & ~kDupMask;  // lane bits that pick the token
  static constexpr int kStageElems = 2 * kT * kD;                // K then V
  static constexpr int kWarpRingBytes = kDecodeStages * kStageElems * 2;
  static constexpr int kWarpBytes = kWarpRingBytes + kDecodeScratchFloats * 4;
  static constexpr int kBlockStateBytes = (kG * kD + 2 * kG) * 4;  // acc, m, l after the merge
  static constexpr int SmemBytes(int warps) { return warps * kWarpBytes + kBlockStateBytes; }
  static_assert(kD % 8 == 0 && kTg <= 32 && 32 % kTg == 0, "token rows of 16-byte chunks");
  static_assert(kT % kTpw == 0 && kN0 >= 8 && kN0 <= kTg && kT * kG <= 32, "step shape");
  // After the loop a warp's (acc, m, l) is written over its own ring.
  static_assert((kG * kD + 2 * kG) * 4 <= kWarpRingBytes, "warp state fits in its ring");
};

// Reduce-scatter of v[0 .. kN) over the lane bits kO, kO / 2, .., 1, highest first: at offset o,
// lanes with bit o set keep the upper half of their values and add the partner's upper half (one
// shuffle per kept value). Once one value is left, the remaining bits are a plain butterfly sum.
// Afterwards v[0] of lane l is the sum of index (l % (2 kO)) >> (log2(2 kO) - log2(kN)) over the
// 2 kO lanes. Recursion over compile-time offsets keeps every index a constant (registers only).
template <int kSize, int kN, int kO>
__device__ __forceinline__ void DecodeButterfly(float (&v)[kSize], int lane) {
  if constexpr (kO >= 1) {
    if constexpr (kN >= 2) {
      const bool upper = (lane & kO) != 0;
#pragma unroll
      for (int k = 0; k < kN / 2; ++k) {
        const float send = upper ? v[k] : v[k + kN / 2];
        const float keep = upper ? v[k + kN / 2] : v[k];
        v[k] = keep + __shfl_xor_sync(0xffffffffu, send, kO);
      }
    } else {
      v[0] += __shfl_xor_sync(0xffffffffu, v[0], kO);
    }
    DecodeButterfly<kSize, (kN >= 2 ? kN / 2 : 1), kO / 2>(v, lane);
  }
}

template <int kD, int kG>
__global__ void __launch_bounds__(kDecodeMaxWarps * 32) PagedDecodeKernel(const DecodeArgs a) {
  using L = DecodeShape<kD, kG>;
  constexpr int kTg = L::kTg, kTpw = L::kTpw, kT = L::kT, kR = L::kR, kN0 = L::kN0;
  constexpr unsigned kFull = 0xffffffffu;
  unsigned char* const decode_smem = DynamicSmem();
  const int warps = static_cast<int>(blockDim.x >> 5);
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  __nv_bfloat16* ring = reinterpret_cast<__nv_bfloat16*>(decode_smem + warp * L::kWarpRingBytes);
  float* scratch = reinterpret_cast<float*>(decode_smem + warps * L::kWarpRingBytes) +
                   warp * kDecodeScratchFloats;
  float* blk_acc = reinterpret_cast<float*>(decode_smem + warps * L::kWarpBytes);  // [kG * kD]
  float* blk_m = blk_acc + kG * kD;
  float* blk_l = blk_m + kG;

  const int seq = static_cast<int>(blockIdx.z);
  const int64_t t = a.cu_seqlens[seq];
  if (a.cu_seqlens[seq + 1] - t <= 0) return;  // no new token (uniform over the cluster)
  const int splits = static_cast<int>(gridDim.x), rank = static_cast<int>(blockIdx.x);
  const int g = static_cast<int>(blockIdx.y) / a.head_tiles;
  const int head0 = (static_cast<int>(blockIdx.y) % a.head_tiles) * kG;  // within the group
  const int64_t kv_len = static_cast<int64_t>(a.cached_lens[seq]) + 1;
  int64_t kb = 0, ke = 0;
  DecodeSplitRange(kv_len, splits, rank, kT, &kb, &ke);
  const int nsteps = static_cast<int>(CeilDiv<int64_t>(ke - kb, kT));
  const int my_steps = warp < nsteps ? (nsteps - warp + warps - 1) / warps : 0;
  const int32_t* bt_row = a.block_table + seq * a.bt_stride;
  const int ts = lane / kTg, c = lane % kTg;  // token of the round, 16-byte chunk of the row
  const int idx = c >> L::kDupShift;          // score index after the butterfly
  const int my_r = idx / kG, my_h = idx % kG;
  const bool primary = (c & L::kDupMask) == 0;

  // q of the tile's heads, dims 8c .. 8c + 7 (zeros for heads past the group).
  float qf[kG][8];
#pragma unroll
  for (int h = 0; h < kG; ++h) {
    uint4 w = make_uint4(0, 0, 0, 0);
    if (head0 + h < a.group) {
      w = __ldg(reinterpret_cast<const uint4*>(
          a.q + t * a.q_stride + static_cast<int64_t>(g * a.group + head0 + h) * a.q_head_stride +
          c * 8));
    }
    const uint32_t ws[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      qf[h][2 * j] = Bf16Lo(ws[j]);
      qf[h][2 * j + 1] = Bf16Hi(ws[j]);
    }
  }

  // The warp's steps: tokens kb + (warp + i * warps) * kT .. + kT - 1, i = 0 .. my_steps - 1.
  const int64_t step_stride = static_cast<int64_t>(warps) * kT;
  int64_t issue_base = kb + static_cast<int64_t>(warp) * kT;
  int issue_slot = 0;
  __nv_bfloat16* const lane_ring = ring + ts * kD + c * 8;  // this lane's chunk of round 0
  // Steps start at multiples of kT, so a step lies inside one page whenever kT <= page size
  // (always at D 256): one block-table lookup per step, the rows at a fixed stride after it.
  const bool step_in_page = kT <= (1 << a.log2_page);
  const int64_t row_stride = static_cast<int64_t>(a.num_heads_kv) * kD;
  auto issue = [&]() {
    if (issue_base < ke) {  // warp-uniform; steps past the range commit an empty group
      __nv_bfloat16* sk = lane_ring + issue_slot * L::kStageElems;
      int64_t off[kR];
      bool ok[kR];
      if (step_in_page) {
        const int64_t first =
            PagedKvOffset(bt_row, issue_base, a.log2_page, a.num_heads_kv, g, kD) + c * 8;
#pragma unroll
        for (int r = 0; r < kR; ++r) {
          ok[r] = issue_base + r * kTpw + ts < ke;
          off[r] = first + (r * kTpw + ts) * row_stride;
        }
      } else {
#pragma unroll
        for (int r = 0; r < kR; ++r) {
          const int64_t j = issue_base + r * kTpw + ts;
          ok[r] = j < ke;
          off[r] = ok[r] ? PagedKvOffset(bt_row, j, a.log2_page, a.num_heads_kv, g, kD) + c * 8 : 0;
        }
      }
#pragma unroll
      for (int r = 0; r < kR; ++r) {
        const int64_t o = ok[r] ? off[r] : 0;  // rows past the range: not read, zero-filled
        CpAsync16(sk + r * kTpw * kD, a.k_pages + o, ok[r]);
        CpAsync16(sk + kT * kD + r * kTpw * kD, a.v_pages + o, ok[r]);
      }
    }
    CpAsyncCommit();
    issue_base += step_stride;
    issue_slot = issue_slot + 1 == kDecodeStages ? 0 : issue_slot + 1;
  };
#pragma unroll
  for (int s = 0; s < kDecodeStages - 1; ++s) issue();

  float acc[kG][8];
#pragma unroll
  for (int h = 0; h < kG; ++h) {
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[h][e] = 0.0f;
  }
  float m_run = -INFINITY;  // the running max of head my_h (same in every lane of that head)
  float l_run = 0.0f;       // sum of this lane's p (its token slot, head my_h)
  int use_slot = 0;
  int64_t step_base = kb + static_cast<int64_t>(warp) * kT;
  for (int i = 0; i < my_steps; ++i) {
    issue();
    CpAsyncWait<kDecodeStages - 1>();  // step i's chunks (this lane's own copies) have landed
    const __nv_bfloat16* sk = lane_ring + use_slot * L::kStageElems;
    const __nv_bfloat16* sv = sk + kT * kD;

    // Partial q.k of every (round, head) over this lane's 8 dims.
    float v[kN0];
#pragma unroll
    for (int r = 0; r < kR; ++r) {
      const uint4 w = *reinterpret_cast<const uint4*>(sk + r * kTpw * kD);
      const uint32_t ws[4] = {w.x, w.y, w.z, w.w};
      float kf[8];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        kf[2 * j] = Bf16Lo(ws[j]);
        kf[2 * j + 1] = Bf16Hi(ws[j]);
      }
#pragma unroll
      for (int h = 0; h < kG; ++h) {
        float d = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e) d = fmaf(qf[h][e], kf[e], d);
        v[r * kG + h] = d;
      }
    }
    DecodeButterfly<kN0, kN0, kTg / 2>(v, lane);

    // Online softmax of head my_h over the step (log2 domain).
    const int64_t j = step_base + my_r * kTpw + ts;
    const float x = j < ke ? v[0] * a.scale_log2 : -INFINITY;
    float mx = x;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      if ((L::kHeadMask & o) == 0) mx = fmaxf(mx, __shfl_xor_sync(kFull, mx, o));
    }
    const float m_new = fmaxf(m_run, mx);  // finite: token step_base is in the range
    const float alpha = m_new == m_run ? 1.0f : Exp2Approx(m_run - m_new);
    const float p = Exp2Approx(x - m_new);
    l_run = l_run * alpha + p;
    m_run = m_new;
    float* sp = scratch + (i & 1) * 40;  // double-buffered: one __syncwarp per step suffices
    if (primary) sp[ts * kN0 + idx] = p;
    if (primary && ts == 0 && my_r == 0) sp[32 + my_h] = alpha;
    __syncwarp();

    // acc = acc * alpha (skipped when no head's maximum moved: alpha == 1 exactly) + p v.
    if (__any_sync(kFull, alpha != 1.0f)) {
#pragma unroll
      for (int h = 0; h < kG; ++h) {
        const float al = sp[32 + h];
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[h][e] *= al;
      }
    }
#pragma unroll
    for (int r = 0; r < kR; ++r) {
      const uint4 w = *reinterpret_cast<const uint4*>(sv + r * kTpw * kD);
      const uint32_t ws[4] = {w.x, w.y, w.z, w.w};
      float vf[8];
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) {
        vf[2 * jj] = Bf16Lo(ws[jj]);
        vf[2 * jj + 1] = Bf16Hi(ws[jj]);
      }
      float pr[kG];  // 0 for tokens past the range (their v reads as 0)
      const float* pp = sp + ts * kN0 + r * kG;
      if constexpr (kG % 4 == 0) {
#pragma unroll
        for (int h = 0; h < kG; h += 4) {
          const float4 q4 = *reinterpret_cast<const float4*>(pp + h);
          pr[h] = q4.x;
          pr[h + 1] = q4.y;
          pr[h + 2] = q4.z;
          pr[h + 3] = q4.w;
        }
      } else {
#pragma unroll
        for (int h = 0; h < kG; ++h) pr[h] = pp[h];
      }
#pragma unroll
      for (int h = 0; h < kG; ++h) {
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[h][e] = fmaf(pr[h], vf[e], acc[h][e]);
      }
    }
    use_slot = use_slot + 1 == kDecodeStages ? 0 : use_slot + 1;
    step_base += step_stride;
  }

  // The warp's state: acc summed over its token groups, l over the token bits.
#pragma unroll
  for (int h = 0; h < kG; ++h) {
#pragma unroll
    for (int e = 0; e < 8; ++e) {
#pragma unroll
      for (int o = kTg; o < 32; o <<= 1) acc[h][e] += __shfl_xor_sync(kFull, acc[h][e], o);
    }
  }
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    if ((L::kTokenMask & o) != 0) l_run += __shfl_xor_sync(kFull, l_run, o);
  }
  CpAsyncWait<0>();  // (only empty groups remain) the ring is free once every lane is here
  __syncwarp();
  float* wstate = reinterpret_cast<float*>(ring);  // acc [kG * kD], m [kG], l [kG]
  if (ts == 0) {
#pragma unroll
    for (int h = 0; h < kG; ++h) {
      float4* dst = reinterpret_cast<float4*>(wstate + h * kD + c * 8);
      dst[0] = make_float4(acc[h][0], acc[h][1], acc[h][2], acc[h][3]);
      dst[1] = make_float4(acc[h][4], acc[h][5], acc[h][6], acc[h][7]);
    }
    if (primary && my_r == 0) {
      wstate[kG * kD + my_h] = m_run;
      wstate[kG * kD + kG + my_h] = l_run;
    }
  }
  __syncthreads();

  // Merge the warps: (m, l, acc) of the block with m = max over warps (-inf when the block's
  // range is empty, l = acc = 0 then).
  __nv_bfloat16* out_row = a.out + t * a.out_stride;
  for (int i = tid; i < kG * kD; i += static_cast<int>(blockDim.x)) {
    const int h = i / kD;
    float m = -INFINITY;
    for (int w = 0; w < warps; ++w) {
      m = fmaxf(m, reinterpret_cast<const float*>(decode_smem + w * L::kWarpRingBytes)[kG * kD + h]);
    }
    float l = 0.0f, num = 0.0f;
    if (m != -INFINITY) {
      for (int w = 0; w < warps; ++w) {
        const float* ws = reinterpret_cast<const float*>(decode_smem + w * L::kWarpRingBytes);
        const float wt = exp2f(ws[kG * kD + h] - m);  // 0 for warps without tokens
        l += ws[kG * kD + kG + h] * wt;
        num += ws[i] * wt;
      }
    }
    if (splits == 1) {
      if (head0 + h < a.group) {
        out_row[static_cast<int64_t>(g * a.group + head0 + h) * kD + (i - h * kD)] =
            __float2bfloat16(num / l);
      }
    } else {
      blk_acc[i] = num;
      if (i - h * kD == 0) {
        blk_m[h] = m;
        blk_l[h] = l;
      }
    }
  }
  if (splits == 1) return;

  // Merge the cluster's splits: every block writes an equal share of the (head, dim) outputs.
  namespace cg = cooperative_groups;
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();  // every block's blk_m, blk_l, blk_acc complete and visible cluster-wide
  const int per = CeilDiv(kG * kD, splits);
  for (int i = rank * per + tid; i < MinOf((rank + 1) * per, kG * kD);
       i += static_cast<int>(blockDim.x)) {
    const int h = i / kD, d = i - h * kD;
    if (head0 + h >= a.group) continue;
    float m[kDecodeMaxSplits], l[kDecodeMaxSplits], num[kDecodeMaxSplits];
#pragma unroll
    for (int r = 0; r < kDecodeMaxSplits; ++r) {
      if (r < splits) {
        m[r] = *cluster.map_shared_rank(&blk_m[h], r);
        l[r] = *cluster.map_shared_rank(&blk_l[h], r);
        num[r] = *cluster.map_shared_rank(&blk_acc[i], r);
      } else {
        m[r] = -INFINITY;
        l[r] = 0.0f;
        num[r] = 0.0f;
      }
    }
    out_row[static_cast<int64_t>(g * a.group + head0 + h) * kD + d] =
        __float2bfloat16(MergeSoftmaxStates(m, l, num, 1, kDecodeMaxSplits));
  }
  cluster.sync();  // no block leaves while another may still read its shared memory
}

// ---------------------------------------------------------------------------------------------
// The previous decode kernel (4 warps, 32-token tiles with two block barriers each, 16-byte loads
// into registers), kept reachable from the launcher (kUseLegacyDecode in paged_attention.cu).

inline constexpr int kDecodeLegacyThreads = 128;
inline constexpr int kDecodeLegacyWarps = kDecodeLegacyThreads / 32;
inline constexpr int kDecodeLegacyTile = 32;  // tokens per tile (one per lane in phase B)

// Lane layout of a tile: kE consecutive-in-16-byte-pieces elements of one token per lane, kTg
// lanes per token (a token row of kD elements), kTpw tokens per warp step.
template <int kD, int kG>
struct DecodeLegacyLayout {
  static constexpr int kE = kG >= 4 ? 8 : 16;  // q and acc: 2 * kG * kE registers
  static constexpr int kTg = kD / kE;
  static constexpr int kTpw = 32 / kTg;
  static constexpr int kTokPerWarp = kDecodeLegacyTile / kDecodeLegacyWarps;
  static constexpr int kSteps = kTokPerWarp / kTpw;
  static constexpr int kPieces = kE / 8;
  static constexpr int kHeadsPerWarp = (kG + kDecodeLegacyWarps - 1) / kDecodeLegacyWarps;
  static_assert(kTg <= 32 && 32 % kTg == 0 && kTokPerWarp % kTpw == 0 && kSteps >= 1);
};

template <int kD, int kG>
__global__ void __launch_bounds__(kDecodeLegacyThreads) PagedDecodeLegacyKernel(const DecodeArgs a) {
  using L = DecodeLegacyLayout<kD, kG>;
  constexpr int kE = L::kE, kTg = L::kTg, kTpw = L::kTpw, kSteps = L::kSteps;
  constexpr int kPieces = L::kPieces, kHpw = L::kHeadsPerWarp;
  __shared__ float s_score[kG][kDecodeLegacyTile];
  __shared__ float s_p[kG][kDecodeLegacyTile];
  __shared__ float s_alpha[kG];
  __shared__ float s_m[kG];
  __shared__ float s_l[kG];
  __shared__ __align__(16) float s_red[kDecodeLegacyWarps][kG * kD];

  const int seq = static_cast<int>(blockIdx.z);
  const int64_t t = a.cu_seqlens[seq];
  if (a.cu_seqlens[seq + 1] - t <= 0) return;  // no new token (uniform over the cluster)
  const int splits = static_cast<int>(gridDim.x), rank = static_cast<int>(blockIdx.x);
  const int g = static_cast<int>(blockIdx.y) / a.head_tiles;
  const int head0 = (static_cast<int>(blockIdx.y) % a.head_tiles) * kG;  // within the group
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int grp = lane / kTg, li = lane % kTg;
  const int64_t kv_len = static_cast<int64_t>(a.cached_lens[seq]) + 1;
  int64_t kb = 0, ke = 0;
  DecodeSplitRange(kv_len, splits, rank, kDecodeLegacyTile, &kb, &ke);
  const int32_t* bt_row = a.block_table + seq * a.bt_stride;

  // q of the tile's heads: piece p of lane li covers dims (p * kTg + li) * 8 .. + 8.
  float qf[kG][kE];
#pragma unroll
  for (int h = 0; h < kG; ++h) {
    const bool ok = head0 + h < a.group;
    const __nv_bfloat16* qh =
        a.q + t * a.q_stride + static_cast<int64_t>(g * a.group + head0 + h) * a.q_head_stride;
#pragma unroll
    for (int p = 0; p < kPieces; ++p) {
      uint4 w = make_uint4(0, 0, 0, 0);
      if (ok) w = __ldg(reinterpret_cast<const uint4*>(qh + (p * kTg + li) * 8));
      const uint32_t ws[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        qf[h][p * 8 + 2 * j] = Bf16Lo(ws[j]);
        qf[h][p * 8 + 2 * j + 1] = Bf16Hi(ws[j]);
      }
    }
  }
  float acc[kG][kE];
#pragma unroll
  for (int h = 0; h < kG; ++h) {
#pragma unroll
    for (int e = 0; e < kE; ++e) acc[h][e] = 0.0f;
  }
  float m_run[kHpw], l_run[kHpw];  // heads warp + i * kDecodeLegacyWarps, same value in every lane
#pragma unroll
  for (int i = 0; i < kHpw; ++i) {
    m_run[i] = -INFINITY;
    l_run[i] = 0.0f;
  }

  for (int64_t tile0 = kb; tile0 < ke; tile0 += kDecodeLegacyTile) {
    // (A) scores of the warp's tokens (log2 domain), -inf past the range.
    uint4 kr[kSteps][kPieces];
    bool ok[kSteps];
    int64_t off[kSteps];
#pragma unroll
    for (int st = 0; st < kSteps; ++st) {
      const int jj = warp * L::kTokPerWarp + st * kTpw + grp;
      ok[st] = tile0 + jj < ke;
      off[st] = ok[st] ? PagedKvOffset(bt_row, tile0 + jj, a.log2_page, a.num_heads_kv, g, kD) : 0;
#pragma unroll
      for (int p = 0; p < kPieces; ++p) {
        kr[st][p] =
            ok[st] ? __ldg(reinterpret_cast<const uint4*>(a.k_pages + off[st] + (p * kTg + li) * 8))
                   : make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int st = 0; st < kSteps; ++st) {
      float kf[kE];
#pragma unroll
      for (int p = 0; p < kPieces; ++p) {
        const uint32_t ws[4] = {kr[st][p].x, kr[st][p].y, kr[st][p].z, kr[st][p].w};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          kf[p * 8 + 2 * j] = Bf16Lo(ws[j]);
          kf[p * 8 + 2 * j + 1] = Bf16Hi(ws[j]);
        }
      }
      const int jj = warp * L::kTokPerWarp + st * kTpw + grp;
#pragma unroll
      for (int h = 0; h < kG; ++h) {
        float d = 0.0f;
#pragma unroll
        for (int e = 0; e < kE; ++e) d = fmaf(qf[h][e], kf[e], d);
#pragma unroll
        for (int o = kTg / 2; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
        if (li == 0) s_score[h][jj] = ok[st] ? d * a.scale_log2 : -INFINITY;
      }
    }
    __syncthreads();

    // (B) online softmax per head: one warp per head, one lane per token of the tile.
#pragma unroll
    for (int i = 0; i < kHpw; ++i) {
      const int h = warp + i * kDecodeLegacyWarps;
      if (h < kG) {
        const float x = s_score[h][lane];
        float mx = x;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        const float m_new = fmaxf(m_run[i], mx);  // finite: the tile has a token of the range
        const float alpha = exp2f(m_run[i] - m_new);
        const float p = exp2f(x - m_new);
        s_p[h][lane] = p;
        float sum = p;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        l_run[i] = l_run[i] * alpha + sum;
        m_run[i] = m_new;
        if (lane == 0) s_alpha[h] = alpha;
      }
    }
    __syncthreads();

    // (C) acc = acc * alpha + sum_j p_j v_j over the warp's tokens.
    uint4 vr[kSteps][kPieces];
#pragma unroll
    for (int st = 0; st < kSteps; ++st) {
#pragma unroll
      for (int p = 0; p < kPieces; ++p) {
        vr[st][p] =
            ok[st] ? __ldg(reinterpret_cast<const uint4*>(a.v_pages + off[st] + (p * kTg + li) * 8))
                   : make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int h = 0; h < kG; ++h) {
      const float al = s_alpha[h];
#pragma unroll
      for (int e = 0; e < kE; ++e) acc[h][e] *= al;
    }
#pragma unroll
    for (int st = 0; st < kSteps; ++st) {
      const int jj = warp * L::kTokPerWarp + st * kTpw + grp;
      float vf[kE];
#pragma unroll
      for (int p = 0; p < kPieces; ++p) {
        const uint32_t ws[4] = {vr[st][p].x, vr[st][p].y, vr[st][p].z, vr[st][p].w};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          vf[p * 8 + 2 * j] = Bf16Lo(ws[j]);
          vf[p * 8 + 2 * j + 1] = Bf16Hi(ws[j]);
        }
      }
#pragma unroll
      for (int h = 0; h < kG; ++h) {
        const float pj = s_p[h][jj];  // 0 for tokens past the range (their v reads as 0)
#pragma unroll
        for (int e = 0; e < kE; ++e) acc[h][e] = fmaf(pj, vf[e], acc[h][e]);
      }
    }
    // The next tile writes s_score (not read here) before its first barrier, and s_p / s_alpha
    // only after it, by which time every warp is past this phase.
  }

  // Sum acc over the kTpw token groups of the warp, then over the warps (shared memory).
#pragma unroll
  for (int h = 0; h < kG; ++h) {
#pragma unroll
    for (int e = 0; e < kE; ++e) {
#pragma unroll
      for (int o = kTg; o < 32; o <<= 1) acc[h][e] += __shfl_xor_sync(0xffffffffu, acc[h][e], o);
    }
  }
  if (grp == 0) {
#pragma unroll
    for (int h = 0; h < kG; ++h) {
#pragma unroll
      for (int p = 0; p < kPieces; ++p) {
        float* dst = &s_red[warp][h * kD + (p * kTg + li) * 8];
#pragma unroll
        for (int j = 0; j < 8; ++j) dst[j] = acc[h][p * 8 + j];
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kHpw; ++i) {
    const int h = warp + i * kDecodeLegacyWarps;
    if (h < kG && lane == 0) {
      s_m[h] = m_run[i];
      s_l[h] = l_run[i];
    }
  }
  __syncthreads();
  for (int i = tid; i < kG * kD; i += kDecodeLegacyThreads) {
    float sum = s_red[0][i];
#pragma unroll
    for (int w = 1; w < kDecodeLegacyWarps; ++w) sum += s_red[w][i];
    s_red[0][i] = sum;
  }

  __nv_bfloat16* out_row = a.out + t * a.out_stride;
  if (splits == 1) {
    __syncthreads();
    for (int i = tid; i < kG * kD; i += kDecodeLegacyThreads) {
      const int h = i / kD, d = i - h * kD;
      if (head0 + h >= a.group) continue;
      out_row[static_cast<int64_t>(g * a.group + head0 + h) * kD + d] =
          __float2bfloat16(s_red[0][i] / s_l[h]);
    }
    return;
  }
  // Merge the cluster's splits: every block writes an equal share of the (head, dim) outputs.
  namespace cg = cooperative_groups;
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();  // every block's s_m, s_l, s_red[0] complete and visible cluster-wide
  const int per = CeilDiv(kG * kD, splits);
  for (int i = rank * per + tid; i < MinOf((rank + 1) * per, kG * kD); i += kDecodeLegacyThreads) {
    const int h = i / kD, d = i - h * kD;
    if (head0 + h >= a.group) continue;
    float m[kDecodeMaxSplits], l[kDecodeMaxSplits], num[kDecodeMaxSplits];
#pragma unroll
    for (int r = 0; r < kDecodeMaxSplits; ++r) {
      if (r < splits) {
        m[r] = *cluster.map_shared_rank(&s_m[h], r);
        l[r] = *cluster.map_shared_rank(&s_l[h], r);
        num[r] = *cluster.map_shared_rank(&s_red[0][i], r);
      } else {
        m[r] = -INFINITY;
        l[r] = 0.0f;
        num[r] = 0.0f;
      }
    }
    out_row[static_cast<int64_t>(g * a.group + head0 + h) * kD + d] =
        __float2bfloat16(MergeSoftmaxStates(m, l, num, 1, kDecodeMaxSplits));
  }
  cluster.sync();  // no block leaves while another may still read its shared memory
}

}  // namespace qwen::kernels::cuda::detail

// Decode kernel of the paged attention (kernels/cuda/paged_attention.h): one new token per
// sequence, memory-bound (every K/V byte of the context is read once).
//
// Block (split r, KV head g x head tile, sequence s), 4 warps: the kG query heads of one tile of
// KV head g (GQA) share every K/V load. The context [0, cached_lens[s] + 1) is divided among the
// blocks of a thread-block cluster (grid.x = cluster size C <= 8, flash-decoding); each block walks
// its range in tiles of 32 tokens: (A) q.k for the tile's tokens, kTg lanes per token with 16-byte
// loads, scores to shared memory; (B) per-head online softmax update (one warp per head);
// (C) acc = acc * alpha + p v in registers. The blocks' (m, l, acc) are then merged through
// distributed shared memory (cluster.map_shared_rank) and written once as bf16.
#pragma once

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/detail/block.h"
#include "kernels/cuda/detail/mma_sm80.cuh"
#include "kernels/cuda/detail/paged_kv_core.h"

namespace qwen::kernels::cuda::detail {

inline constexpr int kDecodeThreads = 128;
inline constexpr int kDecodeWarps = kDecodeThreads / 32;
inline constexpr int kDecodeTile = 32;  // tokens per tile (one per lane in phase B)
inline constexpr int kDecodeMaxSplits = 8;

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

// Lane layout of a tile: kE consecutive-in-16-byte-pieces elements of one token per lane, kTg
// lanes per token (a token row of kD elements), kTpw tokens per warp step.
template <int kD, int kG>
struct DecodeLayout {
  static constexpr int kE = kG >= 4 ? 8 : 16;  // q and acc: 2 * kG * kE registers
  static constexpr int kTg = kD / kE;
  static constexpr int kTpw = 32 / kTg;
  static constexpr int kTokPerWarp = kDecodeTile / kDecodeWarps;
  static constexpr int kSteps = kTokPerWarp / kTpw;
  static constexpr int kPieces = kE / 8;
  static constexpr int kHeadsPerWarp = (kG + kDecodeWarps - 1) / kDecodeWarps;
  static_assert(kTg <= 32 && 32 % kTg == 0 && kTokPerWarp % kTpw == 0 && kSteps >= 1);
};

template <int kD, int kG>
__global__ void __launch_bounds__(kDecodeThreads) PagedDecodeKernel(const DecodeArgs a) {
  using L = DecodeLayout<kD, kG>;
  constexpr int kE = L::kE, kTg = L::kTg, kTpw = L::kTpw, kSteps = L::kSteps;
  constexpr int kPieces = L::kPieces, kHpw = L::kHeadsPerWarp;
  __shared__ float s_score[kG][kDecodeTile];
  __shared__ float s_p[kG][kDecodeTile];
  __shared__ float s_alpha[kG];
  __shared__ float s_m[kG];
  __shared__ float s_l[kG];
  __shared__ __align__(16) float s_red[kDecodeWarps][kG * kD];

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
  DecodeSplitRange(kv_len, splits, rank, kDecodeTile, &kb, &ke);
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
  float m_run[kHpw], l_run[kHpw];  // heads warp + i * kDecodeWarps, same value in every lane
#pragma unroll
  for (int i = 0; i < kHpw; ++i) {
    m_run[i] = -INFINITY;
    l_run[i] = 0.0f;
  }

  for (int64_t tile0 = kb; tile0 < ke; tile0 += kDecodeTile) {
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
      const int h = warp + i * kDecodeWarps;
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
    const int h = warp + i * kDecodeWarps;
    if (h < kG && lane == 0) {
      s_m[h] = m_run[i];
      s_l[h] = l_run[i];
    }
  }
  __syncthreads();
  for (int i = tid; i < kG * kD; i += kDecodeThreads) {
    float sum = s_red[0][i];
#pragma unroll
    for (int w = 1; w < kDecodeWarps; ++w) sum += s_red[w][i];
    s_red[0][i] = sum;
  }

  __nv_bfloat16* out_row = a.out + t * a.out_stride;
  if (splits == 1) {
    __syncthreads();
    for (int i = tid; i < kG * kD; i += kDecodeThreads) {
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
  for (int i = rank * per + tid; i < MinOf((rank + 1) * per, kG * kD); i += kDecodeThreads) {
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

// Tensor-core flash attention over varlen query tiles (FlashAttention-2 schedule), shared by the
// paged causal prefill (kernels/cuda/paged_attention.h) and the vision encoder's bidirectional
// segment attention (kernels/cuda/vision_attention.h).
//
// One block = one tile of kM consecutive query tokens of one sequence x one query head; 4 warps
// of 16 query rows each. K/V tiles of kN keys stream through shared memory with cp.async (K of the
// next tile loads during P V, V of this tile during Q Kᵀ and the softmax); S = Q Kᵀ and O += P V
// run on bf16 m16n8k16 mma.sync with fp32 accumulators; online softmax in fp32 in the log2 domain;
// one rounding of O / l to bf16. Head dims are padded to kD (a multiple of 16) with zeros in shared
// memory, so any D % 8 == 0 up to kD works (72 and 80 run at kD = 80).
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

inline constexpr int kFlashM = 64;  // query rows per block (16 per warp)
inline constexpr int kFlashN = 32;  // keys per K/V tile
inline constexpr int kFlashThreads = 128;

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
};

template <int kD>
constexpr int FlashSmemBytes() {
  return (kFlashM + 2 * kFlashN) * (kD + 8) * 2;
}

// Finds the (sequence, tile) of flattened tile index b, tiles numbered sequence by sequence with
// ceil(len / kFlashM) tiles each; every lane of the calling warp gets the same answer. Returns
// false when b is past the last tile. Warp-cooperative scan over 32 sequences at a time.
__device__ __forceinline__ bool FlashFindTile(const int32_t* cu, int num_seqs, int64_t b, int* seq,
                                              int* tile, int* num_tiles) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  int64_t base = 0;
  for (int s0 = 0; s0 < num_seqs; s0 += 32) {
    const int s = s0 + lane;
    int nt = 0;
    if (s < num_seqs) nt = (cu[s + 1] - cu[s] + kFlashM - 1) / kFlashM;
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

// kPaged: causal attention of new tokens over a paged cache (query row i of sequence s at absolute
// position cached_lens[s] + i sees keys [0, that position]); otherwise bidirectional attention
// inside the segment (keys = the segment's own tokens of k/v).
template <int kD, bool kPaged>
__global__ void __launch_bounds__(kFlashThreads) FlashAttentionKernel(const FlashArgs a) {
  constexpr int kM = kFlashM, kN = kFlashN, kLd = kD + 8, kChunks = kD / 8;
  static_assert(kD % 16 == 0 && kD <= 256, "head dim tile");
  extern __shared__ __align__(16) unsigned char flash_smem[];
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(flash_smem);
  __nv_bfloat16* sK = sQ + kM * kLd;
  __nv_bfloat16* sV = sK + kN * kLd;

  int seq = 0, tile = 0, num_tiles = 0;
  if (!FlashFindTile(a.cu_seqlens, a.num_seqs, blockIdx.x, &seq, &tile, &num_tiles)) return;
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
  for (int c = tid; c < kM * kChunks; c += kFlashThreads) {
    const int r = c / kChunks, ch = c - r * kChunks;
    const bool ok = r < rows && ch * 8 < dr;
    CpAsync16(sQ + r * kLd + ch * 8, ok ? q_base + r * a.q_stride + ch * 8 : a.q, ok);
  }
  // Rows k0 .. k0 + kN - 1 of K or V (zeros past kv_end and in the padded dims).
  auto load_kv = [&](__nv_bfloat16* dst, const __nv_bfloat16* src_base, int64_t k0) {
    for (int c = tid; c < kN * kChunks; c += kFlashThreads) {
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

    // S = Q Kᵀ for this warp's 16 rows x kN keys.
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

    // Scale, mask, online softmax (rows qrow_lo (regs 0, 1) and qrow_lo + 8 (regs 2, 3)).
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

    // O += P V: P from the S accumulators (C layout of two n-tiles = A layout of one k16 step).
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

// Launch over an upper bound of the tile count (ceil(N / kM) + S); blocks past the last tile exit.
template <int kD, bool kPaged>
cudaError_t LaunchFlashAttention(const FlashArgs& a, int64_t num_tokens, int num_heads_q,
                                 cudaStream_t stream) {
  constexpr int kSmem = FlashSmemBytes<kD>();
  QWEN_CUDA_TRY(
      PrepareDynamicSmem(reinterpret_cast<const void*>(&FlashAttentionKernel<kD, kPaged>), kSmem));
  const int64_t tiles = CeilDiv<int64_t>(num_tokens, kFlashM) + a.num_seqs;
  QWEN_CUDA_CHECK_ARG(tiles <= 0x7fffffff && num_heads_q <= 65535);
  FlashAttentionKernel<kD, kPaged>
      <<<dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(num_heads_q)), kFlashThreads,
         kSmem, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace qwen::kernels::cuda::detail

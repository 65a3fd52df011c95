// Block programs of the gated delta rule kernels (kernels/cuda/gated_delta_rule.h), written
// against the execution policy of detail/block.h: the CUDA kernels and the CPU emulation tests
// run this exact code. fp32 throughout.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels/cuda/detail/block.h"
#include "kernels/cuda/detail/numeric.h"

// Partial unrolling of loops with run-time trip counts (QWEN_UNROLL unrolls fully or not at all).
#if defined(__CUDACC__)
#define QWEN_GDR_PRAGMA(x) _Pragma(#x)
#define QWEN_GDR_UNROLL_N(n) QWEN_GDR_PRAGMA(unroll n)
#else
#define QWEN_GDR_UNROLL_N(n)
#endif

namespace qwen::kernels::cuda::detail {

// ---------------------------------------------------------------------------------------------
// Gates: g = -exp(A_log) * softplus(a + dt_bias), beta = sigmoid(b) (kernels/cpu GatedDeltaGates).

struct GatesArgs {
  const __nv_bfloat16* a = nullptr;  // [T, Hv], rows a_stride apart
  const __nv_bfloat16* b = nullptr;  // [T, Hv], rows b_stride apart
  const float* a_log = nullptr;      // [Hv]
  const float* dt_bias = nullptr;    // [Hv]
  float* g = nullptr;                // [T, Hv]
  float* beta = nullptr;             // [T, Hv]
  int64_t num_tokens = 0;
  int num_heads_v = 0;
  int64_t a_stride = 0;
  int64_t b_stride = 0;
};

inline constexpr int kGatesThreads = 256;

inline Grid3 GatesGrid(const GatesArgs& a) {
  return {static_cast<int>(CeilDiv<int64_t>(a.num_tokens * a.num_heads_v, kGatesThreads)), 1, 1};
}

template <class Block>
QWEN_HD void GatesBlock(const Block& blk, int bx, const GatesArgs& a) {
  blk.For(kGatesThreads, [&](int i) {
    const int64_t e = static_cast<int64_t>(bx) * kGatesThreads + i;
    if (e >= a.num_tokens * a.num_heads_v) return;
    const int64_t t = e / a.num_heads_v;
    const int j = static_cast<int>(e - t * a.num_heads_v);
    const float x = ToFloat(a.a[t * a.a_stride + j]) + a.dt_bias[j];
    // TRAP: PyTorch softplus switches to the identity above threshold 20 (beta = 1).
    const float softplus = x > 20.0f ? x : log1pf(expf(x));
    a.g[e] = -expf(a.a_log[j]) * softplus;
    a.beta[e] = 1.0f / (1.0f + expf(-ToFloat(a.b[t * a.b_stride + j])));
  });
}

// ---------------------------------------------------------------------------------------------
// Shared arguments of the chunked and recurrent kernels.

struct GdrArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  const float* g = nullptr;
  const float* beta = nullptr;
  const int32_t* cu_seqlens = nullptr;         // [S + 1] (chunked only)
  const int32_t* slots = nullptr;              // [S]
  const int32_t* has_initial_state = nullptr;  // [S] or nullptr (chunked only)
  float* state_pool = nullptr;                 // [num_slots, Hv, Dk, Dv]
  float* out = nullptr;                        // [N, Hv*Dv], rows out_stride apart
  int num_seqs = 0;
  int num_heads_k = 0;
  int num_heads_v = 0;
  int head_dim_k = 0;
  int head_dim_v = 0;
  int64_t qk_stride = 0;
  int64_t v_stride = 0;
  int64_t out_stride = 0;
  // Chunked prefill only.
  float* workspace = nullptr;  // GdrWorkspaceFloats(N, Hv) floats, 16-byte aligned
  int64_t num_tokens = 0;      // N: rows of q/k/v/g/beta/out and of the workspace
  int scan_stages = 1;         // buffers of the scan's chunk inputs (GdrScanStages: 1 or 2)
  bool qk_vec = false;         // 16-byte accesses to q/k rows (GdrChooseAccessWidths)
  bool v_vec = false;          // idem v rows
  bool out_vec = false;        // idem out rows
};

// 16-byte accesses need 16-byte aligned rows: aligned base pointers, row strides and head offsets
// in multiples of 4 floats (Dk always is one). Otherwise the kernels move single floats: the same
// values and the same arithmetic, only slower.
inline void GdrChooseAccessWidths(GdrArgs* a) {
  auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  a->qk_vec = aligned(a->q) && aligned(a->k) && a->qk_stride % 4 == 0;
  a->v_vec = aligned(a->v) && a->v_stride % 4 == 0 && a->head_dim_v % 4 == 0;
  a->out_vec = aligned(a->out) && a->out_stride % 4 == 0 && a->head_dim_v % 4 == 0;
}

// ---------------------------------------------------------------------------------------------
// Memory helpers of the chunked kernels.

// 16-byte load / store of 4 floats (p 16-byte aligned); element by element on the host.
QWEN_HD_INLINE void GdrLd4(const float* p, float (&o)[4]) {
#if defined(__CUDA_ARCH__)
  const float4 t = *reinterpret_cast<const float4*>(p);
  o[0] = t.x;
  o[1] = t.y;
  o[2] = t.z;
  o[3] = t.w;
#else
  for (int i = 0; i < 4; ++i) o[i] = p[i];
#endif
}
QWEN_HD_INLINE void GdrSt4(float* p, const float (&v)[4]) {
#if defined(__CUDA_ARCH__)
  *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
#else
  for (int i = 0; i < 4; ++i) p[i] = v[i];
#endif
}
QWEN_HD_INLINE void GdrZero4(float* p) {
  const float z[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  GdrSt4(p, z);
}

// Asynchronous global -> shared copies (the scan's chunk inputs). On the GPU: cp.async (sm_80+),
// complete and visible to the whole block after GdrCopyWaitAll + Sync. On the host the policy
// decides when they land: HostBlock copies at once; a policy with DeferCopy / FlushCopies members
// (the emulation tests' deferring block) holds them until GdrCopyWaitAll, so that reading a buffer
// before waiting for its copies shows up as a wrong result, like it would on the GPU.
template <class B, class = void>
struct GdrDefersCopies : std::false_type {};
template <class B>
struct GdrDefersCopies<B, std::void_t<decltype(std::declval<const B&>().DeferCopy(
                              static_cast<float*>(nullptr), static_cast<const float*>(nullptr), 0))>>
    : std::true_type {};

QWEN_HD_INLINE void GdrCopy16(const DeviceBlock&, float* dst, const float* src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(
                   static_cast<unsigned>(__cvta_generic_to_shared(dst))),
               "l"(src)
               : "memory");
#elif defined(__CUDA_ARCH__)
  *reinterpret_cast<float4*>(dst) = *reinterpret_cast<const float4*>(src);
#else
  (void)dst;
  (void)src;
#endif
}
QWEN_HD_INLINE void GdrCopy4(const DeviceBlock&, float* dst, const float* src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(
                   static_cast<unsigned>(__cvta_generic_to_shared(dst))),
               "l"(src)
               : "memory");
#elif defined(__CUDA_ARCH__)
  *dst = *src;
#else
  (void)dst;
  (void)src;
#endif
}
QWEN_HD_INLINE void GdrCopyWaitAll(const DeviceBlock&) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

template <class HostPolicy>
void GdrHostCopy(const HostPolicy& blk, float* dst, const float* src, int n) {
  if constexpr (GdrDefersCopies<HostPolicy>::value) {
    blk.DeferCopy(dst, src, n);
  } else {
    (void)blk;
    for (int i = 0; i < n; ++i) dst[i] = src[i];
  }
}
template <class HostPolicy>
void GdrCopy16(const HostPolicy& blk, float* dst, const float* src) {
  GdrHostCopy(blk, dst, src, 4);
}
template <class HostPolicy>
void GdrCopy4(const HostPolicy& blk, float* dst, const float* src) {
  GdrHostCopy(blk, dst, src, 1);
}
template <class HostPolicy>
void GdrCopyWaitAll(const HostPolicy& blk) {
  if constexpr (GdrDefersCopies<HostPolicy>::value) blk.FlushCopies();
  (void)blk;
}

// Largest s with cu[s] <= t (cu non-decreasing, cu[0] = 0 <= t): the sequence owning token t,
// skipping empty sequences.
QWEN_HD_INLINE int GdrSeqOfToken(const int32_t* cu, int num_seqs, int64_t t) {
  int lo = 0, hi = num_seqs;  // answer in [0, num_seqs - 1]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (cu[mid] <= t) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// Chunked prefill (MODEL.md 2.7.4), split into a chunk-parallel kernel and a sequential one.
//
// Per chunk of C tokens of a value head, with γ the inclusive cumulative sum of g inside the
// chunk and Γ_rm = exp(γ_r - γ_m) for m <= r, the chunked form
//   state-independent:  A = strict_lower(diag(β) (K Kᵀ ⊙ Γ)),  T = (I + A)^-1,
//                       P = tril(Q Kᵀ ⊙ Γ),  e^γ,  e^{γ_last - γ},  β
//   state-dependent:    V' = T diag(β) (V - diag(e^γ) K S)        (= U - W S of MODEL.md)
//                       O  = diag(e^γ) Q S + P V'
//                       S <- e^{γ_last} S + Kᵀ diag(e^{γ_last - γ}) V'
// runs as two launches:
//  1. GdrPrepBlock, grid (token tile, key head): the first line for every chunk of every
//     sequence, all in parallel, into the caller's workspace. K Kᵀ and Q Kᵀ depend only on the
//     key head, so one block serves the Hv/Hk value heads that share it (only β and γ differ).
//  2. GdrScanBlock, grid (value-column tile, value head, sequence): walks the sequence's chunks
//     in order and does only the state-dependent products on its tile of state columns (the
//     columns of S evolve independently: every product above acts on S from the left), while
//     the next chunk's inputs stream into shared memory (cp.async).
//
// Why T and not W = T diag(β e^γ) K, U = T diag(β) V in the workspace (the other exact
// regrouping): W and U cost Dk + Dv floats per token row and value head, T and P 2C (68 with the
// scalars, about 4x less workspace at Dk = Dv = 128), and applying T in the scan costs C^2 DT / 2
// multiply-adds per chunk, ~4% of the scan's 2 C Dk DT + C Dk DT + C^2 DT / 2 at C = 32,
// Dk = 128. It also keeps the arithmetic of the single-kernel version this replaces, which the
// tests bound against the CPU references.
//
// Chunk size: per token, the scan's work is 3 Dk DT (K S, Q S, the state update, independent of
// C) plus C DT (T R and P V', each C^2 DT / 2 per chunk): at Dk = 128, 8% over the minimum at
// C = 32 and 17% at C = 64, so C = 32 does less work; it also halves the prep's Gram and solve
// work per token and the workspace, and keeps the entries of T = (I + A)^-1 smaller. The cost is
// twice the barriers per token (3 per chunk of ~1.7k multiply-adds per thread at Dk = 128, DT =
// 32, 256 threads: small).
//
// Tiling and occupancy (Hopper, 132 SMs): the scan is the sequential part, so a one-sequence
// prefill must give every SM one block: Hv x Dv / DT = 32 x 4 = 128 blocks of 256 threads at the
// 9B shape with DT = 32. Its phase tiles are 1 row x 4 columns (K S and Q S together, 8
// accumulators) and 4 key rows x 4 columns (state update), read as 16-byte vectors: per warp and
// 4 steps of the reduction, phase A issues 6 shared-memory wavefronts for 32 FMA instructions and
// the state update 2 for 16 (a warp's operands are a few rows, broadcast, and one contiguous
// 128-byte row of the other operand), so the SM's 4 FMA pipes rather than its one shared-memory
// port set the pace. Rows of K, Q are padded to Dk + 4 floats and rows of T, P to C + 4 so that the
// 4-8 distinct rows a warp reads start in different bank groups.

// Tiling of the chunked kernels: kChunk tokens per chunk; kDvTile state columns per scan block;
// kThreads threads in both kernels; kPrepHeads value heads per solve batch of the prep kernel
// (its shared memory holds that many A matrices); kSmemBudget bytes of shared memory per block
// (the scan double-buffers its chunk inputs only when two buffers fit).
template <int kChunkT, int kDvTileT, int kThreadsT, int kPrepHeadsT, int kSmemBudgetT>
struct GdrChunkConfig {
  static constexpr int kChunk = kChunkT;
  static constexpr int kDvTile = kDvTileT;
  static constexpr int kThreads = kThreadsT;
  static constexpr int kPrepHeads = kPrepHeadsT;
  static constexpr int kSmemBudget = kSmemBudgetT;
  // The solve keeps one column of T in registers, indexed by unrolled loops only.
  static_assert(kChunk % 4 == 0 && kChunk <= 64);
  static_assert(kDvTile % 4 == 0 && kPrepHeads >= 1);
};
// Hopper: chunk 32, 32-column value tiles, 256 threads, 227 KB per block: the scan takes 117 KB
// at Dk = 128 (two buffers; 197 KB at Dk = 256), one block per SM; the prep 59 KB (Dk = 128,
// 91 KB at Dk = 256).
using GdrChunkDefaultConfig = GdrChunkConfig<32, 32, 256, 4, 227 * 1024>;
// GB10 (~99 KB per block, 48 SMs): chunk 32, 16-column tiles (twice the scan blocks per head),
// 128 threads; the scan double-buffers up to Dk = 124 (57 KB single-buffered at Dk = 128,
// 97 KB at Dk = 256; the prep 91 KB at Dk = 256).
using GdrChunkGb10Config = GdrChunkConfig<32, 16, 128, 4, 99 * 1024>;

// Workspace (written by the prep, read by the scan), per value head j and token row t, where t is
// row r of its chunk: T row r [C], P row r [C] (both zero right of the diagonal), and the scalars
// (e^{γ_r}, e^{γ_last - γ_r}, β_r, 0). Indexed by token row, so its size depends on N only (not on
// how the tokens split into sequences and chunks), and a chunk's rows are contiguous.
//   t: f32 [Hv, N, C]; p: f32 [Hv, N, C]; vec: f32 [Hv, N, 4].
struct GdrWorkspace {
  float* t = nullptr;
  float* p = nullptr;
  float* vec = nullptr;
};

template <class Cfg>
QWEN_HD_INLINE int64_t GdrWorkspaceFloats(int64_t num_tokens, int num_heads_v) {
  return num_tokens * num_heads_v * (2 * Cfg::kChunk + 4);
}

template <class Cfg>
QWEN_HD_INLINE GdrWorkspace GdrWorkspaceOf(float* base, int64_t num_tokens, int num_heads_v) {
  const int64_t rows = num_tokens * num_heads_v;
  GdrWorkspace w;
  w.t = base;
  w.p = base + rows * Cfg::kChunk;
  w.vec = base + 2 * rows * Cfg::kChunk;
  return w;
}

// ---------------------------------------------------------------------------------------------
// Kernel 1: the state-independent part of every chunk.

// Shared-memory layout (floats) of one prep block.
struct GdrPrepSmem {
  int ldk = 0;  // row stride of the K and Q chunks: Dk + 4 (16-byte rows, shifted banks)
  int ldc = 0;  // row stride of the C x C matrices: C + 1
  int ks = 0, qs = 0, kk = 0, qk = 0, a = 0, gam = 0, bet = 0;
  int total = 0;
};

template <class Cfg>
QWEN_HD_INLINE GdrPrepSmem GdrPrepLayout(int dk) {
  constexpr int C = Cfg::kChunk, NB = Cfg::kPrepHeads;
  GdrPrepSmem l;
  l.ldk = dk + 4;
  l.ldc = C + 1;
  l.ks = 0;                        // K chunk [C, ldk]
  l.qs = l.ks + C * l.ldk;         // Q chunk [C, ldk]
  l.kk = l.qs + C * l.ldk;         // K Kᵀ    [C, ldc] (on and below the diagonal)
  l.qk = l.kk + C * l.ldc;         // Q Kᵀ    [C, ldc] (idem)
  l.a = l.qk + C * l.ldc;          // A       [NB, C, ldc] (strictly lower)
  l.gam = l.a + NB * C * l.ldc;    // g, then γ [NB, C]
  l.bet = l.gam + NB * C;          // β [NB, C]
  l.total = l.bet + NB * C;
  return l;
}

// Token tiles of C rows x key heads. The block of tile b handles every chunk that starts in
// [b C, b C + C): at most one per sequence (a sequence's chunks start C apart), so the grid needs
// only N and no per-sequence chunk count.
template <class Cfg>
Grid3 GdrPrepGrid(const GdrArgs& a) {
  return {static_cast<int>(CeilDiv<int64_t>(a.num_tokens, Cfg::kChunk)), a.num_heads_k, 1};
}

template <class Cfg, class Block>
QWEN_HD void GdrPrepBlock(const Block& blk, int tile, int hk, const GdrArgs& a, float* smem) {
  constexpr int C = Cfg::kChunk, NB = Cfg::kPrepHeads, H = C / 2;
  const int dk = a.head_dim_k, dk4 = dk / 4, nhv = a.num_heads_v;
  const int group = nhv / a.num_heads_k;  // value heads hk * group + [0, group) share this key head
  const GdrPrepSmem l = GdrPrepLayout<Cfg>(dk);
  const int ldk = l.ldk, ldc = l.ldc;
  float* Ks = smem + l.ks;
  float* Qs = smem + l.qs;
  float* KK = smem + l.kk;
  float* QK = smem + l.qk;
  float* A = smem + l.a;
  float* gam = smem + l.gam;
  float* bet = smem + l.bet;
  const GdrWorkspace ws = GdrWorkspaceOf<Cfg>(a.workspace, a.num_tokens, nhv);

  const int64_t tile0 = static_cast<int64_t>(tile) * C, tile1 = tile0 + C;
  if (tile0 >= a.cu_seqlens[a.num_seqs]) return;  // past the last sequence (uniform)
  for (int seq = GdrSeqOfToken(a.cu_seqlens, a.num_seqs, tile0);
       seq < a.num_seqs && a.cu_seqlens[seq] < tile1; ++seq) {
    const int64_t begin = a.cu_seqlens[seq], end = a.cu_seqlens[seq + 1];
    // The chunk of this sequence that starts in the tile, if any (chunks start at begin + i C).
    const int64_t t0 = begin + CeilDiv<int64_t>(MaxOf<int64_t>(tile0 - begin, 0), C) * C;
    if (t0 >= MinOf<int64_t>(end, tile1)) continue;
    const int len = static_cast<int>(MinOf<int64_t>(C, end - t0));
    const int64_t qk0 = t0 * a.qk_stride + static_cast<int64_t>(hk) * dk;

    // K and Q rows; rows >= len are the zero padding of MODEL.md 2.7.4.
    blk.For(C * dk4, [&](int i) {
      const int r = i / dk4, d = (i % dk4) * 4;
      float kv[4] = {0.0f, 0.0f, 0.0f, 0.0f}, qv[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (r < len) {
        const int64_t off = qk0 + r * a.qk_stride + d;
        if (a.qk_vec) {
          GdrLd4(a.k + off, kv);
          GdrLd4(a.q + off, qv);
        } else {
          for (int u = 0; u < 4; ++u) {
            kv[u] = a.k[off + u];
            qv[u] = a.q[off + u];
          }
        }
      }
      GdrSt4(Ks + r * ldk + d, kv);
      GdrSt4(Qs + r * ldk + d, qv);
    });
    blk.Sync();

    // K Kᵀ and Q Kᵀ in 2x2 register tiles on and below the diagonal (the consumers read entries
    // (r, c) with c <= r only); each entry sums over d in order.
    blk.For(H * H, [&](int i) {
      const int rt = i / H, ct = i % H;
      if (ct > rt) return;
      const int r0 = 2 * rt, c0 = 2 * ct;
      float kk[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}}, qk[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
      for (int d = 0; d < dk; d += 4) {
        float kr[2][4], qr[2][4], kc[2][4];
        QWEN_UNROLL
        for (int ii = 0; ii < 2; ++ii) {
          GdrLd4(Ks + (r0 + ii) * ldk + d, kr[ii]);
          GdrLd4(Qs + (r0 + ii) * ldk + d, qr[ii]);
          GdrLd4(Ks + (c0 + ii) * ldk + d, kc[ii]);
        }
        QWEN_UNROLL
        for (int u = 0; u < 4; ++u) {
          QWEN_UNROLL
          for (int ii = 0; ii < 2; ++ii) {
            QWEN_UNROLL
            for (int jj = 0; jj < 2; ++jj) {
              kk[ii][jj] += kr[ii][u] * kc[jj][u];
              qk[ii][jj] += qr[ii][u] * kc[jj][u];
            }
          }
        }
      }
      QWEN_UNROLL
      for (int ii = 0; ii < 2; ++ii) {
        QWEN_UNROLL
        for (int jj = 0; jj < 2; ++jj) {
          KK[(r0 + ii) * ldc + c0 + jj] = kk[ii][jj];
          QK[(r0 + ii) * ldc + c0 + jj] = qk[ii][jj];
        }
      }
    });

    // The value heads of this key head, NB at a time.
    for (int j0 = 0; j0 < group; j0 += NB) {
      const int nb = MinOf(NB, group - j0);
      // g and β (zeros past len: they leave the cumulative sum unchanged).
      blk.For(nb * C, [&](int i) {
        const int jj = i / C, r = i % C;
        const int64_t e = (t0 + r) * nhv + hk * group + j0 + jj;
        gam[i] = r < len ? a.g[e] : 0.0f;
        bet[i] = r < len ? a.beta[e] : 0.0f;
      });
      blk.Sync();
      // γ: inclusive cumulative sum inside the chunk, in order (as the CPU reference).
      blk.For(nb, [&](int jj) {
        float acc = 0.0f;
        for (int r = 0; r < len; ++r) {
          acc += gam[jj * C + r];
          gam[jj * C + r] = acc;
        }
      });
      blk.Sync();
      // A_rc = β_r (k_r·k_c) Γ_rc (c < r) into shared memory; P_rc = (q_r·k_c) Γ_rc (c <= r, else 0)
      // and the row scalars to the workspace. Γ_rc = exp(γ_r - γ_c) <= 1 is formed only for
      // c <= r (never a ratio of exponentials, which could overflow or underflow).
      blk.For(nb * C * C, [&](int i) {
        const int jj = i / (C * C), r = (i / C) % C, c = i % C;
        if (r >= len) return;
        const int64_t row = static_cast<int64_t>(hk * group + j0 + jj) * a.num_tokens + t0 + r;
        const float* gj = gam + jj * C;
        const float decay = c <= r ? expf(gj[r] - gj[c]) : 0.0f;
        ws.p[row * C + c] = c <= r ? QK[r * ldc + c] * decay : 0.0f;
        A[(jj * C + r) * ldc + c] = c < r ? bet[jj * C + r] * KK[r * ldc + c] * decay : 0.0f;
        if (c == 0) {
          const float s4[4] = {expf(gj[r]), expf(gj[len - 1] - gj[r]), bet[jj * C + r], 0.0f};
          GdrSt4(ws.vec + row * 4, s4);
        }
      });
      blk.Sync();
      // T = (I + A)^-1 (unit lower triangular) by forward substitution, one column per item:
      //   T_rc = -Σ_{m=c}^{r-1} A_rm T_mc  (r > c),
      // summed in increasing m as the CPU reference (the terms m < c are A_rm * 0 = ±0, which
      // leave the running sum at +0). The column lives in registers (loops fully unrolled); a
      // warp's items share r and m, so the A_rm reads are broadcasts.
      blk.For(nb * C, [&](int i) {
        const int jj = i / C, c = i % C;
        const float* aj = A + jj * C * ldc;
        float* tcol = ws.t + (static_cast<int64_t>(hk * group + j0 + jj) * a.num_tokens + t0) * C + c;
        float x[C];
        QWEN_UNROLL
        for (int r = 0; r < C; ++r) {
          x[r] = 0.0f;
          if (r < len) {
            float acc = 0.0f;
            QWEN_UNROLL
            for (int m = 0; m < r; ++m) acc += aj[r * ldc + m] * x[m];
            x[r] = r > c ? -acc : (r == c ? 1.0f : 0.0f);
            tcol[static_cast<int64_t>(r) * C] = x[r];
          }
        }
      });
      blk.Sync();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Kernel 2: the recurrence over chunks.

// Shared-memory layout (floats) of one scan block: `stages` buffers of chunk inputs, then the
// state tile and the phase outputs.
struct GdrScanSmem {
  int ldk = 0;    // row stride of K and Q: Dk + 4
  int ldc = 0;    // row stride of T and P: C + 4
  int stage = 0;  // floats per buffer of chunk inputs
  int ks = 0, qs = 0, vs = 0, ts = 0, ps = 0, vec = 0;  // offsets inside a buffer
  int s = 0, r = 0, o1 = 0;
  int total = 0;
};

template <class Cfg>
QWEN_HD_INLINE GdrScanSmem GdrScanLayout(int dk, int stages) {
  constexpr int C = Cfg::kChunk, DT = Cfg::kDvTile;
  GdrScanSmem l;
  l.ldk = dk + 4;
  l.ldc = C + 4;
  l.ks = 0;                                       // K      [C, ldk]
  l.qs = l.ks + C * l.ldk;                        // Q      [C, ldk]; after phase A: V', V'' [C, DT]
  l.vs = l.qs + C * MaxOf(l.ldk, 2 * DT);         // V tile [C, DT]
  l.ts = l.vs + C * DT;                           // T      [C, ldc]
  l.ps = l.ts + C * l.ldc;                        // P      [C, ldc]
  l.vec = l.ps + C * l.ldc;                       // (e^γ, e^{γ_last - γ}, β, 0) [C, 4]
  l.stage = l.vec + 4 * C;
  l.s = stages * l.stage;                         // state tile S[k][c] [Dk, DT]
  l.r = l.s + dk * DT;                            // R      [C, DT]
  l.o1 = l.r + C * DT;                            // O1     [C, DT]
  l.total = l.o1 + C * DT;
  return l;
}

// Two buffers (loads of chunk i + 1 overlap the work on chunk i) when they fit the budget.
template <class Cfg>
QWEN_HD_INLINE int GdrScanStages(int dk) {
  return static_cast<int64_t>(GdrScanLayout<Cfg>(dk, 2).total) * 4 <= Cfg::kSmemBudget ? 2 : 1;
}

template <class Cfg>
Grid3 GdrScanGrid(const GdrArgs& a) {
  return {static_cast<int>(CeilDiv(a.head_dim_v, Cfg::kDvTile)), a.num_heads_v, a.num_seqs};
}

// One block: state columns [tile * DT, ...) of value head `hv` of sequence `seq`, over the
// sequence's chunks in order. Reads the prep's workspace rows of this head.
template <class Cfg, class Block>
QWEN_HD void GdrScanBlock(const Block& blk, int tile, int hv, int seq, const GdrArgs& a,
                          float* smem) {
  constexpr int C = Cfg::kChunk, DT = Cfg::kDvTile, CT = DT / 4, C4 = C / 4;
  const int dk = a.head_dim_k, dk4 = dk / 4, dv = a.head_dim_v, nhv = a.num_heads_v;
  const int stages = a.scan_stages;
  const GdrScanSmem l = GdrScanLayout<Cfg>(dk, stages);
  const int ldk = l.ldk, ldc = l.ldc;
  float* S = smem + l.s;
  float* R = smem + l.r;
  float* O1 = smem + l.o1;

  const int col0 = tile * DT;
  // TRAP: q/k head i serves Hv/Hk *consecutive* value heads (repeat_interleave, MODEL.md 2.7.2).
  const int hk = hv / (nhv / a.num_heads_k);
  const int64_t begin = a.cu_seqlens[seq];
  const int64_t end = a.cu_seqlens[seq + 1];
  const bool init = a.has_initial_state == nullptr || a.has_initial_state[seq] != 0;
  float* state = a.state_pool + (static_cast<int64_t>(a.slots[seq]) * nhv + hv) * dk * dv;
  const GdrWorkspace ws = GdrWorkspaceOf<Cfg>(a.workspace, a.num_tokens, nhv);
  const int64_t ws_row0 = static_cast<int64_t>(hv) * a.num_tokens;

  blk.For(dk * DT, [&](int i) {
    const int kk = i / DT, c = i % DT, col = col0 + c;
    S[i] = init && col < dv ? state[static_cast<int64_t>(kk) * dv + col] : 0.0f;
  });

  // Issues the loads of the chunk starting at t0 into buffer `buf`: copies for rows < len,
  // zeros for the padding rows (k = q = v = 0, T = P = 0, β = e^γ = 0: they change nothing).
  auto load_chunk = [&](int64_t t0, int buf) {
    const int len = static_cast<int>(MinOf<int64_t>(C, end - t0));
    float* st = smem + buf * l.stage;
    float* Ks = st + l.ks;
    float* Qs = st + l.qs;
    float* Vs = st + l.vs;
    float* Ts = st + l.ts;
    float* Ps = st + l.ps;
    float* Vec = st + l.vec;
    const int64_t qk0 = t0 * a.qk_stride + static_cast<int64_t>(hk) * dk;
    if (a.qk_vec) {
      blk.For(C * dk4, [&](int i) {
        const int r = i / dk4, d = (i % dk4) * 4;
        if (r < len) {
          const int64_t off = qk0 + r * a.qk_stride + d;
          GdrCopy16(blk, Ks + r * ldk + d, a.k + off);
          GdrCopy16(blk, Qs + r * ldk + d, a.q + off);
        } else {
          GdrZero4(Ks + r * ldk + d);
          GdrZero4(Qs + r * ldk + d);
        }
      });
    } else {
      blk.For(C * dk, [&](int i) {
        const int r = i / dk, d = i % dk;
        if (r < len) {
          const int64_t off = qk0 + r * a.qk_stride + d;
          GdrCopy4(blk, Ks + r * ldk + d, a.k + off);
          GdrCopy4(blk, Qs + r * ldk + d, a.q + off);
        } else {
          Ks[r * ldk + d] = 0.0f;
          Qs[r * ldk + d] = 0.0f;
        }
      });
    }
    const int64_t v0 = t0 * a.v_stride + static_cast<int64_t>(hv) * dv + col0;
    if (a.v_vec) {  // Dv % 4 == 0: a group of 4 columns is entirely inside or outside [0, Dv)
      blk.For(C * CT, [&](int i) {
        const int r = i / CT, c = (i % CT) * 4;
        if (r < len && col0 + c < dv) {
          GdrCopy16(blk, Vs + r * DT + c, a.v + v0 + r * a.v_stride + c);
        } else {
          GdrZero4(Vs + r * DT + c);
        }
      });
    } else {
      blk.For(C * DT, [&](int i) {
        const int r = i / DT, c = i % DT;
        if (r < len && col0 + c < dv) {
          GdrCopy4(blk, Vs + r * DT + c, a.v + v0 + r * a.v_stride + c);
        } else {
          Vs[r * DT + c] = 0.0f;
        }
      });
    }
    // T and P rows (C floats, 16-byte aligned in the workspace), then the row scalars.
    const int64_t w0 = ws_row0 + t0;
    blk.For(C * (2 * C4 + 1), [&](int i) {
      if (i < 2 * C * C4) {
        const int which = i / (C * C4), e = i % (C * C4);
        const int r = e / C4, c = (e % C4) * 4;
        float* dst = (which == 0 ? Ts : Ps) + r * ldc + c;
        if (r < len) {
          GdrCopy16(blk, dst, (which == 0 ? ws.t : ws.p) + (w0 + r) * C + c);
        } else {
          GdrZero4(dst);
        }
      } else {
        const int r = i - 2 * C * C4;
        if (r < len) {
          GdrCopy16(blk, Vec + r * 4, ws.vec + (w0 + r) * 4);
        } else {
          GdrZero4(Vec + r * 4);
        }
      }
    });
  };

  const int64_t num_chunks = CeilDiv<int64_t>(end - begin, C);
  if (stages == 2 && num_chunks > 0) load_chunk(begin, 0);
  for (int64_t ci = 0; ci < num_chunks; ++ci) {
    const int64_t t0 = begin + ci * C;
    const int len = static_cast<int>(MinOf<int64_t>(C, end - t0));
    const int buf = stages == 2 ? static_cast<int>(ci & 1) : 0;
    if (stages == 1) {
      blk.Sync();  // every thread is done with the previous chunk's buffer
      load_chunk(t0, 0);
    }
    GdrCopyWaitAll(blk);
    blk.Sync();
    // Two buffers: the next chunk streams into the other one, last read by the previous chunk,
    // which every thread finished before the barrier above.
    if (stages == 2 && ci + 1 < num_chunks) load_chunk(t0 + C, buf ^ 1);
    const float* st = smem + buf * l.stage;
    const float* Ks = st + l.ks;
    const float* Qs = st + l.qs;
    const float* Vs = st + l.vs;
    const float* Ts = st + l.ts;
    const float* Ps = st + l.ps;
    const float* Vec = st + l.vec;
    // Q is dead after phase A: V' and V'' = diag(e^{γ_last - γ}) V' take its space.
    float* Vp = smem + buf * l.stage + l.qs;
    float* Vpp = Vp + C * DT;

    // Phase A: with the incoming state S,
    //   R = diag(β) (V - diag(e^γ) K S)  (so that V' = U - W S = T R),  O1 = diag(e^γ) Q S.
    // Item: row r x 4 columns of both products; each sum runs over d in order.
    blk.For(C * CT, [&](int i) {
      const int r = i / CT, c0 = (i % CT) * 4;
      float ks[4] = {0.0f, 0.0f, 0.0f, 0.0f}, qs[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      const float* kr = Ks + r * ldk;
      const float* qr = Qs + r * ldk;
      QWEN_GDR_UNROLL_N(2)
      for (int d = 0; d < dk; d += 4) {
        float k4[4], q4[4];
        GdrLd4(kr + d, k4);
        GdrLd4(qr + d, q4);
        QWEN_UNROLL
        for (int u = 0; u < 4; ++u) {
          float s4[4];
          GdrLd4(S + (d + u) * DT + c0, s4);
          QWEN_UNROLL
          for (int j = 0; j < 4; ++j) {
            ks[j] += k4[u] * s4[j];
            qs[j] += q4[u] * s4[j];
          }
        }
      }
      const float eg = Vec[r * 4], b = Vec[r * 4 + 2];
      float v4[4], rr[4], oo[4];
      GdrLd4(Vs + r * DT + c0, v4);
      QWEN_UNROLL
      for (int j = 0; j < 4; ++j) {
        rr[j] = b * (v4[j] - eg * ks[j]);
        oo[j] = eg * qs[j];
      }
      GdrSt4(R + r * DT + c0, rr);
      GdrSt4(O1 + r * DT + c0, oo);
    });
    blk.Sync();

    // Phase B: V' = T R (T unit lower triangular, zero right of the diagonal: the terms
    // r < m <= (r | 3) of the 4-wide steps add exact zeros), summed in increasing m; and
    // V'' = diag(e^{γ_last - γ}) V' for the state update.
    blk.For(C * CT, [&](int i) {
      const int r = i / CT, c0 = (i % CT) * 4;
      float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      const float* tr = Ts + r * ldc;
      for (int m = 0; m <= r; m += 4) {
        float t4[4];
        GdrLd4(tr + m, t4);
        QWEN_UNROLL
        for (int u = 0; u < 4; ++u) {
          float r4[4];
          GdrLd4(R + (m + u) * DT + c0, r4);
          QWEN_UNROLL
          for (int j = 0; j < 4; ++j) acc[j] += t4[u] * r4[j];
        }
      }
      const float te = Vec[r * 4 + 1];
      float w4[4];
      QWEN_UNROLL
      for (int j = 0; j < 4; ++j) w4[j] = te * acc[j];
      GdrSt4(Vp + r * DT + c0, acc);
      GdrSt4(Vpp + r * DT + c0, w4);
    });
    blk.Sync();

    // Phase C (no barrier needed between its two kinds of items: disjoint outputs, and nothing
    // either kind reads is written here except each state item's own block of S):
    //   items [0, C*CT):      O = O1 + P V' (rows < len) to global memory;
    //   items [C*CT, ...):    S <- e^{γ_last} S + Σ_{r < len} k_r V''_rᵀ on 4 key rows x 4 columns.
    const float e_last = Vec[(len - 1) * 4];
    blk.For(C * CT + dk4 * CT, [&](int i) {
      if (i < C * CT) {
        const int r = i / CT, c0 = (i % CT) * 4;
        float acc[4];
        GdrLd4(O1 + r * DT + c0, acc);
        const float* pr = Ps + r * ldc;
        for (int m = 0; m <= r; m += 4) {
          float p4[4];
          GdrLd4(pr + m, p4);
          QWEN_UNROLL
          for (int u = 0; u < 4; ++u) {
            float v4[4];
            GdrLd4(Vp + (m + u) * DT + c0, v4);
            QWEN_UNROLL
            for (int j = 0; j < 4; ++j) acc[j] += p4[u] * v4[j];
          }
        }
        if (r < len) {
          float* o = a.out + (t0 + r) * a.out_stride + static_cast<int64_t>(hv) * dv;
          const int col = col0 + c0;
          if (a.out_vec) {  // Dv % 4 == 0
            if (col < dv) GdrSt4(o + col, acc);
          } else {
            QWEN_UNROLL
            for (int j = 0; j < 4; ++j) {
              if (col + j < dv) o[col + j] = acc[j];
            }
          }
        }
      } else {
        const int e = i - C * CT;
        const int d0 = (e / CT) * 4, c0 = (e % CT) * 4;
        float acc[4][4];
        QWEN_UNROLL
        for (int u = 0; u < 4; ++u) {
          GdrLd4(S + (d0 + u) * DT + c0, acc[u]);
          QWEN_UNROLL
          for (int j = 0; j < 4; ++j) acc[u][j] *= e_last;
        }
        // 4 rows per unrolled step (8 loads in flight before 64 FMAs); 2 for the 16-column GB10
        // tiles, where ptxas for sm_121 spills at 4.
        [[maybe_unused]] constexpr int kUnroll = DT >= 32 ? 4 : 2;
        QWEN_GDR_UNROLL_N(kUnroll)
        for (int r = 0; r < len; ++r) {
          float k4[4], w4[4];
          GdrLd4(Ks + r * ldk + d0, k4);
          GdrLd4(Vpp + r * DT + c0, w4);
          QWEN_UNROLL
          for (int u = 0; u < 4; ++u) {
            QWEN_UNROLL
            for (int j = 0; j < 4; ++j) acc[u][j] += k4[u] * w4[j];
          }
        }
        QWEN_UNROLL
        for (int u = 0; u < 4; ++u) GdrSt4(S + (d0 + u) * DT + c0, acc[u]);
      }
    });
  }

  blk.Sync();
  blk.For(dk * DT, [&](int i) {
    const int kk = i / DT, c = i % DT, col = col0 + c;
    if (col < dv) state[static_cast<int64_t>(kk) * dv + col] = S[i];
  });
}

// ---------------------------------------------------------------------------------------------
// Recurrent decode (one token per sequence).

template <int kDvTileT, int kThreadsT>
struct GdrDecodeConfig {
  static constexpr int kDvTile = kDvTileT;
  static constexpr int kThreads = kThreadsT;
  static constexpr int kParts = kThreadsT / kDvTileT;  // partial sums per column
  static_assert(kThreadsT % kDvTileT == 0);
};
// Hopper: 32 value columns (128-byte state rows) per block, 128 threads.
using GdrDecodeDefaultConfig = GdrDecodeConfig<32, 128>;
// GB10: 16-column tiles, 64 threads.
using GdrDecodeGb10Config = GdrDecodeConfig<16, 64>;

template <class Cfg>
QWEN_HD_INLINE int GdrDecodeSmemFloats(int dk) {
  return dk * Cfg::kDvTile + 2 * dk + Cfg::kParts * Cfg::kDvTile + Cfg::kDvTile;
}

template <class Cfg>
Grid3 GdrDecodeGrid(const GdrArgs& a) {
  return {static_cast<int>(CeilDiv(a.head_dim_v, Cfg::kDvTile)), a.num_heads_v, a.num_seqs};
}

template <class Cfg, class Block>
QWEN_HD void GdrDecodeBlock(const Block& blk, int tile, int hv, int seq, const GdrArgs& a,
                            float* smem) {
  constexpr int DT = Cfg::kDvTile, P = Cfg::kParts;
  const int dk = a.head_dim_k, dv = a.head_dim_v, nhv = a.num_heads_v;
  float* S = smem;               // [Dk, DT]
  float* qs = S + dk * DT;       // [Dk]
  float* ks = qs + dk;           // [Dk]
  float* part = ks + dk;         // [P, DT]
  float* delta = part + P * DT;  // [DT]
  const int col0 = tile * DT;
  const int hk = hv / (nhv / a.num_heads_k);
  const int64_t t = seq;
  float* state = a.state_pool + (static_cast<int64_t>(a.slots[seq]) * nhv + hv) * dk * dv;
  const float alpha = expf(a.g[t * nhv + hv]);
  const float b = a.beta[t * nhv + hv];

  // Decay first (MODEL.md 2.7.3): S = alpha S.
  blk.For(dk * DT, [&](int i) {
    const int kk = i / DT, c = i % DT, col = col0 + c;
    S[i] = col < dv ? state[static_cast<int64_t>(kk) * dv + col] * alpha : 0.0f;
  });
  blk.For(dk, [&](int kk) {
    const int64_t off = t * a.qk_stride + static_cast<int64_t>(hk) * dk + kk;
    qs[kk] = a.q[off];
    ks[kk] = a.k[off];
  });
  blk.Sync();
  // kv = Sᵀ k of the decayed state, as P partial sums per column.
  blk.For(P * DT, [&](int i) {
    const int p = i / DT, c = i % DT;
    float acc = 0.0f;
    for (int kk = p; kk < dk; kk += P) acc += ks[kk] * S[kk * DT + c];
    part[i] = acc;
  });
  blk.Sync();
  blk.For(DT, [&](int c) {
    float kv = 0.0f;
    for (int p = 0; p < P; ++p) kv += part[p * DT + c];
    const int col = col0 + c;
    const float vc = col < dv ? a.v[t * a.v_stride + static_cast<int64_t>(hv) * dv + col] : 0.0f;
    delta[c] = b * (vc - kv);
  });
  blk.Sync();
  // Rank-1 update S += k deltaᵀ, written back to the slot.
  blk.For(dk * DT, [&](int i) {
    const int kk = i / DT, c = i % DT, col = col0 + c;
    const float s = S[i] + ks[kk] * delta[c];
    S[i] = s;
    if (col < dv) state[static_cast<int64_t>(kk) * dv + col] = s;
  });
  blk.Sync();
  // o = Sᵀ q with the updated state.
  blk.For(P * DT, [&](int i) {
    const int p = i / DT, c = i % DT;
    float acc = 0.0f;
    for (int kk = p; kk < dk; kk += P) acc += qs[kk] * S[kk * DT + c];
    part[i] = acc;
  });
  blk.Sync();
  blk.For(DT, [&](int c) {
    const int col = col0 + c;
    if (col >= dv) return;
    float o = 0.0f;
    for (int p = 0; p < P; ++p) o += part[p * DT + c];
    a.out[t * a.out_stride + static_cast<int64_t>(hv) * dv + col] = o;
  });
}

}  // namespace qwen::kernels::cuda::detail

// Block programs of the gated delta rule kernels (kernels/cuda/gated_delta_rule.h), written
// against the execution policy of detail/block.h: the CUDA kernels and the CPU emulation tests
// run this exact code. fp32 throughout.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/detail/block.h"
#include "kernels/cuda/detail/numeric.h"

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
};

// ---------------------------------------------------------------------------------------------
// Chunked prefill.
//
// Tiling: kChunk tokens per chunk; kDvTile value columns per block; kThreads threads.
// Register tiles: the Gram phase computes 4x4 blocks of (row, col) pairs; the V'/O phases
// kRowTile x kColTile blocks of (token, value column); the state update kStateKTile x kStateCTile
// blocks of (key row, value column).
template <int kChunkT, int kDvTileT, int kThreadsT, int kRowTileT, int kColTileT, int kStateKTileT,
          int kStateCTileT>
struct GdrChunkConfig {
  static constexpr int kChunk = kChunkT;
  static constexpr int kDvTile = kDvTileT;
  static constexpr int kThreads = kThreadsT;
  static constexpr int kRowTile = kRowTileT;
  static constexpr int kColTile = kColTileT;
  static constexpr int kStateKTile = kStateKTileT;
  static constexpr int kStateCTile = kStateCTileT;
  static_assert(kChunk % 4 == 0 && kChunk % kRowTile == 0 && kDvTile % kColTile == 0);
  static_assert(kDvTile % kStateCTile == 0 && kStateKTile == 4);
  // R and O1 (2 x kChunk x kDvTile) live in the space of A (kChunk x (kChunk + 1)).
  static_assert(2 * kDvTile <= kChunk + 1);
};
// Hopper: chunk 64 (as HF/FLA), 32-column value tiles, 256 threads; 142 KB shared memory at
// Dk = 128 (224 KB at Dk = 256), one block per SM.
using GdrChunkDefaultConfig = GdrChunkConfig<64, 32, 256, 4, 2, 4, 4>;
// GB10 (~99 KB shared memory per block): chunk 32, 16-column tiles, 128 threads; 56 KB at
// Dk = 128, 97 KB at Dk = 256.
using GdrChunkGb10Config = GdrChunkConfig<32, 16, 128, 2, 2, 4, 4>;

// Shared-memory layout (floats) of one chunked block.
struct GdrChunkSmem {
  int ldk = 0;  // row stride of the K and Q chunks: Dk + 1 (no bank conflicts on column walks)
  int ldc = 0;  // row stride of the kChunk x kChunk matrices: kChunk + 1
  int ks = 0, qs = 0, s = 0, vs = 0, a = 0, r = 0, o1 = 0, x = 0, m = 0;
  int gam = 0, bet = 0, eg = 0, te = 0;
  int total = 0;
};

template <class Cfg>
QWEN_HD_INLINE GdrChunkSmem GdrChunkLayout(int dk) {
  constexpr int C = Cfg::kChunk, DT = Cfg::kDvTile;
  GdrChunkSmem l;
  l.ldk = dk + 1;
  l.ldc = C + 1;
  l.ks = 0;                 // K chunk   [C, ldk]
  l.qs = l.ks + C * l.ldk;  // Q chunk   [C, ldk]
  l.s = l.qs + C * l.ldk;   // state     [Dk, DT] (S[k][c] of this block's columns)
  l.vs = l.s + dk * DT;     // V, then V' [C, DT]
  l.a = l.vs + C * DT;      // A         [C, ldc] (strictly lower)
  l.r = l.a;                // R         [C, DT]  (after the inversion, in A's space)
  l.o1 = l.a + C * DT;      // O1        [C, DT]  (idem)
  l.x = l.a + C * l.ldc;    // X = T = (I + A)^-1 [C, ldc] (lower, unit diagonal)
  l.m = l.x + C * l.ldc;    // M = tril(Q Kᵀ ⊙ Γ) [C, ldc]
  l.gam = l.m + C * l.ldc;  // γ (inclusive cumsum of g in the chunk) [C]
  l.bet = l.gam + C;        // β [C]
  l.eg = l.bet + C;         // e^γ [C]
  l.te = l.eg + C;          // e^{γ_last - γ} [C]
  l.total = l.te + C;
  return l;
}

template <class Cfg>
Grid3 GdrChunkGrid(const GdrArgs& a) {
  return {static_cast<int>(CeilDiv(a.head_dim_v, Cfg::kDvTile)), a.num_heads_v, a.num_seqs};
}

// One block: value columns [tile * kDvTile, ...) of value head `hv` of sequence `seq`.
template <class Cfg, class Block>
QWEN_HD void GdrChunkBlock(const Block& blk, int tile, int hv, int seq, const GdrArgs& a,
                           float* smem) {
  constexpr int C = Cfg::kChunk, DT = Cfg::kDvTile;
  constexpr int RT = Cfg::kRowTile, CT = Cfg::kColTile;
  constexpr int SK = Cfg::kStateKTile, SC = Cfg::kStateCTile;
  const int dk = a.head_dim_k, dv = a.head_dim_v, nhv = a.num_heads_v;
  const GdrChunkSmem l = GdrChunkLayout<Cfg>(dk);
  const int ldk = l.ldk, ldc = l.ldc;
  float* Ks = smem + l.ks;
  float* Qs = smem + l.qs;
  float* S = smem + l.s;
  float* Vs = smem + l.vs;
  float* A = smem + l.a;
  float* R = smem + l.r;
  float* O1 = smem + l.o1;
  float* X = smem + l.x;
  float* M = smem + l.m;
  float* gam = smem + l.gam;
  float* bet = smem + l.bet;
  float* eg = smem + l.eg;
  float* te = smem + l.te;

  const int col0 = tile * DT;
  // TRAP: q/k head i serves Hv/Hk *consecutive* value heads (repeat_interleave, MODEL.md 2.7.2).
  const int hk = hv / (nhv / a.num_heads_k);
  const int64_t begin = a.cu_seqlens[seq];
  const int64_t end = a.cu_seqlens[seq + 1];
  const bool init = a.has_initial_state == nullptr || a.has_initial_state[seq] != 0;
  float* state = a.state_pool + (static_cast<int64_t>(a.slots[seq]) * nhv + hv) * dk * dv;

  blk.For(dk * DT, [&](int i) {
    const int kk = i / DT, c = i % DT, col = col0 + c;
    S[i] = init && col < dv ? state[static_cast<int64_t>(kk) * dv + col] : 0.0f;
  });

  for (int64_t t0 = begin; t0 < end; t0 += C) {
    const int len = static_cast<int>(MinOf<int64_t>(C, end - t0));
    // Phase 1: load the chunk; rows >= len are the zero padding of MODEL.md 2.7.4 (k = q = v = 0,
    // beta = 0, g = 0: they change nothing).
    blk.For(C * dk, [&](int i) {
      const int r = i / dk, kk = i % dk;
      float kv = 0.0f, qv = 0.0f;
      if (r < len) {
        const int64_t off = (t0 + r) * a.qk_stride + static_cast<int64_t>(hk) * dk + kk;
        kv = a.k[off];
        qv = a.q[off];
      }
      Ks[r * ldk + kk] = kv;
      Qs[r * ldk + kk] = qv;
    });
    blk.For(C * DT, [&](int i) {
      const int r = i / DT, c = i % DT, col = col0 + c;
      Vs[i] = r < len && col < dv ? a.v[(t0 + r) * a.v_stride + static_cast<int64_t>(hv) * dv + col]
                                  : 0.0f;
    });
    blk.For(C, [&](int r) { bet[r] = r < len ? a.beta[(t0 + r) * nhv + hv] : 0.0f; });
    blk.For(1, [&](int) {
      float acc = 0.0f;  // inclusive cumulative sum, in order (as the CPU reference)
      for (int r = 0; r < C; ++r) {
        if (r < len) acc += a.g[(t0 + r) * nhv + hv];
        gam[r] = acc;
      }
    });
    blk.Sync();

    // Phase 2: decays, and the Gram matrices in 4x4 register tiles:
    //   A_rc = beta_r (k_r·k_c) Γ_rc (c < r), M_rc = (q_r·k_c) Γ_rc (c <= r), X = I,
    // with Γ_rc = exp(γ_r - γ_c) <= 1 formed only for c <= r (never a ratio of exponentials).
    blk.For(C, [&](int r) {
      eg[r] = expf(gam[r]);
      te[r] = expf(gam[len - 1] - gam[r]);
    });
    blk.For((C / 4) * (C / 4), [&](int i) {
      const int rt = i / (C / 4), ct = i % (C / 4);
      const int r0 = rt * 4, c0 = ct * 4;
      if (ct > rt) {
        for (int ii = 0; ii < 4; ++ii) {
          for (int jj = 0; jj < 4; ++jj) {
            const int e = (r0 + ii) * ldc + c0 + jj;
            A[e] = 0.0f;
            M[e] = 0.0f;
            X[e] = 0.0f;
          }
        }
        return;
      }
      float kk_acc[4][4] = {}, qk_acc[4][4] = {};
      for (int d = 0; d < dk; ++d) {
        float kr[4], qr[4], kc[4];
        QWEN_UNROLL
        for (int ii = 0; ii < 4; ++ii) {
          kr[ii] = Ks[(r0 + ii) * ldk + d];
          qr[ii] = Qs[(r0 + ii) * ldk + d];
          kc[ii] = Ks[(c0 + ii) * ldk + d];
        }
        QWEN_UNROLL
        for (int ii = 0; ii < 4; ++ii) {
          QWEN_UNROLL
          for (int jj = 0; jj < 4; ++jj) {
            kk_acc[ii][jj] += kr[ii] * kc[jj];
            qk_acc[ii][jj] += qr[ii] * kc[jj];
          }
        }
      }
      QWEN_UNROLL
      for (int ii = 0; ii < 4; ++ii) {
        QWEN_UNROLL
        for (int jj = 0; jj < 4; ++jj) {
          const int r = r0 + ii, c = c0 + jj, e = r * ldc + c;
          const float decay = c <= r ? expf(gam[r] - gam[c]) : 0.0f;
          A[e] = c < r ? bet[r] * kk_acc[ii][jj] * decay : 0.0f;
          M[e] = c <= r ? qk_acc[ii][jj] * decay : 0.0f;
          X[e] = r == c ? 1.0f : 0.0f;
        }
      }
    });
    blk.Sync();

    // Phase 3: X = (I + A)^-1 by right-looking forward substitution: after step m row m is
    // final and every later row r subtracts A_rm X_m. Entry (r, c) accumulates -A_rm X_mc for
    // m = c..r-1 in increasing m, the same terms in the same order as the CPU reference.
    for (int m = 0; m + 1 < len; ++m) {
      const int cols = m + 1;
      blk.For((len - 1 - m) * cols, [&](int i) {
        const int r = m + 1 + i / cols, c = i % cols;
        X[r * ldc + c] -= A[r * ldc + m] * X[m * ldc + c];
      });
      blk.Sync();
    }

    // Phase 4 (A is dead; R and O1 take its space): with the incoming state S,
    //   R_rc  = beta_r (V_rc - e^{γ_r} (K S)_rc)   so that V' = U - W S = X R,
    //   O1_rc = e^{γ_r} (Q S)_rc.
    blk.For((C / RT) * (DT / CT), [&](int i) {
      const int r0 = (i / (DT / CT)) * RT, c0 = (i % (DT / CT)) * CT;
      float ks[RT][CT] = {}, qs[RT][CT] = {};
      for (int d = 0; d < dk; ++d) {
        float kr[RT], qr[RT], sc[CT];
        QWEN_UNROLL
        for (int ii = 0; ii < RT; ++ii) {
          kr[ii] = Ks[(r0 + ii) * ldk + d];
          qr[ii] = Qs[(r0 + ii) * ldk + d];
        }
        QWEN_UNROLL
        for (int jj = 0; jj < CT; ++jj) sc[jj] = S[d * DT + c0 + jj];
        QWEN_UNROLL
        for (int ii = 0; ii < RT; ++ii) {
          QWEN_UNROLL
          for (int jj = 0; jj < CT; ++jj) {
            ks[ii][jj] += kr[ii] * sc[jj];
            qs[ii][jj] += qr[ii] * sc[jj];
          }
        }
      }
      QWEN_UNROLL
      for (int ii = 0; ii < RT; ++ii) {
        QWEN_UNROLL
        for (int jj = 0; jj < CT; ++jj) {
          const int r = r0 + ii, e = r * DT + c0 + jj;
          R[e] = bet[r] * (Vs[e] - eg[r] * ks[ii][jj]);
          O1[e] = eg[r] * qs[ii][jj];
        }
      }
    });
    blk.Sync();

    // Phase 5: V' = X R (X lower triangular, zero above the diagonal), into Vs.
    blk.For((C / RT) * (DT / CT), [&](int i) {
      const int r0 = (i / (DT / CT)) * RT, c0 = (i % (DT / CT)) * CT;
      float acc[RT][CT] = {};
      for (int m = 0; m < r0 + RT; ++m) {
        float xr[RT], rm[CT];
        QWEN_UNROLL
        for (int ii = 0; ii < RT; ++ii) xr[ii] = X[(r0 + ii) * ldc + m];
        QWEN_UNROLL
        for (int jj = 0; jj < CT; ++jj) rm[jj] = R[m * DT + c0 + jj];
        QWEN_UNROLL
        for (int ii = 0; ii < RT; ++ii) {
          QWEN_UNROLL
          for (int jj = 0; jj < CT; ++jj) acc[ii][jj] += xr[ii] * rm[jj];
        }
      }
      QWEN_UNROLL
      for (int ii = 0; ii < RT; ++ii) {
        QWEN_UNROLL
        for (int jj = 0; jj < CT; ++jj) Vs[(r0 + ii) * DT + c0 + jj] = acc[ii][jj];
      }
    });
    blk.Sync();

    // Phase 6: O = O1 + M V' (to global memory), and the state update
    //   S <- e^{γ_last} S + Σ_r (e^{γ_last - γ_r} k_r) V'_rᵀ   (rows r < len).
    blk.For((C / RT) * (DT / CT), [&](int i) {
      const int r0 = (i / (DT / CT)) * RT, c0 = (i % (DT / CT)) * CT;
      float acc[RT][CT];
      QWEN_UNROLL
      for (int ii = 0; ii < RT; ++ii) {
        QWEN_UNROLL
        for (int jj = 0; jj < CT; ++jj) acc[ii][jj] = O1[(r0 + ii) * DT + c0 + jj];
      }
      for (int m = 0; m < r0 + RT; ++m) {
        float mr[RT], vm[CT];
        QWEN_UNROLL
        for (int ii = 0; ii < RT; ++ii) mr[ii] = M[(r0 + ii) * ldc + m];
        QWEN_UNROLL
        for (int jj = 0; jj < CT; ++jj) vm[jj] = Vs[m * DT + c0 + jj];
        QWEN_UNROLL
        for (int ii = 0; ii < RT; ++ii) {
          QWEN_UNROLL
          for (int jj = 0; jj < CT; ++jj) acc[ii][jj] += mr[ii] * vm[jj];
        }
      }
      QWEN_UNROLL
      for (int ii = 0; ii < RT; ++ii) {
        const int r = r0 + ii;
        if (r >= len) continue;
        float* o = a.out + (t0 + r) * a.out_stride + static_cast<int64_t>(hv) * dv;
        QWEN_UNROLL
        for (int jj = 0; jj < CT; ++jj) {
          const int col = col0 + c0 + jj;
          if (col < dv) o[col] = acc[ii][jj];
        }
      }
    });
    const float e_last = eg[len - 1];
    blk.For((dk / SK) * (DT / SC), [&](int i) {
      const int k0 = (i / (DT / SC)) * SK, c0 = (i % (DT / SC)) * SC;
      float acc[SK][SC];
      QWEN_UNROLL
      for (int ii = 0; ii < SK; ++ii) {
        QWEN_UNROLL
        for (int jj = 0; jj < SC; ++jj) acc[ii][jj] = e_last * S[(k0 + ii) * DT + c0 + jj];
      }
      for (int r = 0; r < len; ++r) {
        float wk[SK], vr[SC];
        QWEN_UNROLL
        for (int ii = 0; ii < SK; ++ii) wk[ii] = te[r] * Ks[r * ldk + k0 + ii];
        QWEN_UNROLL
        for (int jj = 0; jj < SC; ++jj) vr[jj] = Vs[r * DT + c0 + jj];
        QWEN_UNROLL
        for (int ii = 0; ii < SK; ++ii) {
          QWEN_UNROLL
          for (int jj = 0; jj < SC; ++jj) acc[ii][jj] += wk[ii] * vr[jj];
        }
      }
      QWEN_UNROLL
      for (int ii = 0; ii < SK; ++ii) {
        QWEN_UNROLL
        for (int jj = 0; jj < SC; ++jj) S[(k0 + ii) * DT + c0 + jj] = acc[ii][jj];
      }
    });
    blk.Sync();
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

// Block programs of the causal conv1d + SiLU kernels (kernels/cuda/conv1d.h), written against the
// execution policy of detail/block.h so that the CPU emulation tests run this exact code.
// The arithmetic per output follows kernels/cpu/conv1d.cc: acc = sum_j w[c][j] * x_j for
// j = 0..Kc-1 in order, out = acc / (1 + e^-acc).
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/detail/block.h"
#include "kernels/cuda/detail/numeric.h"

namespace qwen::kernels::cuda::detail {

inline constexpr int kConvMaxKernel = 4;

// Tiling of the conv kernels: kChannels consecutive channels per block (one thread each), and
// kTokens consecutive tokens per thread in the prefill kernel.
template <int kChannelsT, int kTokensT>
struct ConvConfig {
  static constexpr int kChannels = kChannelsT;
  static constexpr int kTokens = kTokensT;
  static constexpr int kThreads = kChannelsT;
};
// Hopper / default: 128 channels x 32 tokens per block.
using ConvDefaultConfig = ConvConfig<128, 32>;
// GB10: 64-channel blocks x 16 tokens (48 SMs; smaller blocks still fill them at decode sizes).
using ConvGb10Config = ConvConfig<64, 16>;

struct ConvArgs {
  const __nv_bfloat16* u = nullptr;            // [N or S, C], rows u_stride apart
  const __nv_bfloat16* w = nullptr;            // [C, Kc]
  const int32_t* cu_seqlens = nullptr;         // [S + 1] (prefill only)
  const int32_t* slots = nullptr;              // [S]
  const int32_t* has_initial_state = nullptr;  // [S] or nullptr (prefill only)
  float* state_pool = nullptr;                 // [num_slots, Kc-1, C]
  float* out = nullptr;                        // [N or S, C], rows out_stride apart
  int64_t num_tokens = 0;
  int num_seqs = 0;
  int channels = 0;
  int kernel = 0;
  int64_t u_stride = 0;
  int64_t out_stride = 0;
};

template <class Cfg>
Grid3 ConvPrefillGrid(const ConvArgs& a) {
  return {static_cast<int>(CeilDiv<int64_t>(a.channels, Cfg::kChannels)),
          static_cast<int>(CeilDiv<int64_t>(a.num_tokens, Cfg::kTokens)), 1};
}
template <class Cfg>
Grid3 ConvPerSeqGrid(const ConvArgs& a) {  // state update and decode: (channel blocks, seqs)
  return {static_cast<int>(CeilDiv<int64_t>(a.channels, Cfg::kChannels)), a.num_seqs, 1};
}

// Largest s with cu[s] <= t (cu non-decreasing, cu[0] = 0 <= t): the sequence owning token t,
// skipping empty sequences.
QWEN_HD_INLINE int SeqOfToken(const int32_t* cu, int num_seqs, int64_t t) {
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

QWEN_HD_INLINE bool HasInitialState(const int32_t* has_initial_state, int seq) {
  return has_initial_state == nullptr || has_initial_state[seq] != 0;
}

// Prefill outputs: block (bx, by) = channels [bx*kChannels, ...) x tokens [by*kTokens, ...).
// Reads the old conv states (ConvStateUpdateBlock rewrites them afterwards, in a second launch).
template <class Cfg, class Block>
QWEN_HD void ConvPrefillBlock(const Block& blk, int bx, int by, const ConvArgs& a) {
  blk.For(Cfg::kChannels, [&](int i) {
    const int c = bx * Cfg::kChannels + i;
    if (c >= a.channels) return;
    const int64_t t0 = static_cast<int64_t>(by) * Cfg::kTokens;
    const int64_t t_end = a.cu_seqlens[a.num_seqs];  // tokens past the last sequence: no output
    const int64_t t1 = MinOf<int64_t>(t0 + Cfg::kTokens, MinOf<int64_t>(a.num_tokens, t_end));
    if (t0 >= t1) return;
    const int hist = a.kernel - 1;
    float wc[kConvMaxKernel];
    QWEN_UNROLL
    for (int j = 0; j < kConvMaxKernel; ++j) {
      wc[j] = j < a.kernel ? ToFloat(a.w[static_cast<int64_t>(c) * a.kernel + j]) : 0.0f;
    }
    int seq = SeqOfToken(a.cu_seqlens, a.num_seqs, t0);
    for (int64_t t = t0; t < t1; ++t) {
      while (t >= a.cu_seqlens[seq + 1]) ++seq;  // t < t_end, so this stops at seq < num_seqs
      const int64_t begin = a.cu_seqlens[seq];
      const bool init = HasInitialState(a.has_initial_state, seq);
      const float* st = a.state_pool + static_cast<int64_t>(a.slots[seq]) * hist * a.channels;
      float acc = 0.0f;
      QWEN_UNROLL
      for (int j = 0; j < kConvMaxKernel; ++j) {
        if (j < a.kernel) {
          // Input row t - (Kc-1) + j of the sequence; before its first row it comes from the
          // state (row hist + (src - begin), oldest first), or is 0 for a fresh sequence.
          const int64_t src = t - hist + j;
          float x;
          if (src >= begin) {
            x = ToFloat(a.u[src * a.u_stride + c]);
          } else {
            x = init ? st[(hist + (src - begin)) * a.channels + c] : 0.0f;
          }
          acc += wc[j] * x;
        }
      }
      a.out[t * a.out_stride + c] = Silu(acc);
    }
  });
}

// New conv state of sequence `seq` after its tokens: the last Kc-1 rows of [state ; u_seq]
// (state taken as zeros without an initial state). Each thread owns one channel of the slot, and
// reads row r = T + s >= s before writing row s, so the in-place shift is safe.
template <class Cfg, class Block>
QWEN_HD void ConvStateUpdateBlock(const Block& blk, int bx, int seq, const ConvArgs& a) {
  blk.For(Cfg::kChannels, [&](int i) {
    const int c = bx * Cfg::kChannels + i;
    if (c >= a.channels) return;
    const int hist = a.kernel - 1;
    const int64_t begin = a.cu_seqlens[seq];
    const int64_t len = a.cu_seqlens[seq + 1] - begin;
    const bool init = HasInitialState(a.has_initial_state, seq);
    float* st = a.state_pool + static_cast<int64_t>(a.slots[seq]) * hist * a.channels;
    for (int s = 0; s < hist; ++s) {
      const int64_t r = len + s;  // row of the virtual sequence [state (hist rows) ; u (len rows)]
      float x;
      if (r < hist) {
        x = init ? st[r * a.channels + c] : 0.0f;
      } else {
        x = ToFloat(a.u[(begin + r - hist) * a.u_stride + c]);
      }
      st[static_cast<int64_t>(s) * a.channels + c] = x;
    }
  });
}

// Decode: one token per sequence (row `seq` of u), state shifted in place.
template <class Cfg, class Block>
QWEN_HD void ConvUpdateBlock(const Block& blk, int bx, int seq, const ConvArgs& a) {
  blk.For(Cfg::kChannels, [&](int i) {
    const int c = bx * Cfg::kChannels + i;
    if (c >= a.channels) return;
    const int hist = a.kernel - 1;
    float* st = a.state_pool + static_cast<int64_t>(a.slots[seq]) * hist * a.channels;
    float win[kConvMaxKernel];
    QWEN_UNROLL
    for (int j = 0; j < kConvMaxKernel; ++j) {
      if (j < hist) {
        win[j] = st[static_cast<int64_t>(j) * a.channels + c];
      } else if (j == hist) {
        win[j] = ToFloat(a.u[static_cast<int64_t>(seq) * a.u_stride + c]);
      } else {
        win[j] = 0.0f;
      }
    }
    float acc = 0.0f;
    QWEN_UNROLL
    for (int j = 0; j < kConvMaxKernel; ++j) {
      if (j < a.kernel) acc += ToFloat(a.w[static_cast<int64_t>(c) * a.kernel + j]) * win[j];
    }
    a.out[static_cast<int64_t>(seq) * a.out_stride + c] = Silu(acc);
    QWEN_UNROLL
    for (int j = 0; j + 1 < kConvMaxKernel; ++j) {
      if (j < hist) st[static_cast<int64_t>(j) * a.channels + c] = win[j + 1];
    }
  });
}

}  // namespace qwen::kernels::cuda::detail

// Host/device helpers of the paged-KV attention kernels (kernels/cuda/paged_attention.h) that the
// CPU emulation tests run as well: page addressing, the token -> sequence map, the KV append block
// program (detail/block.h policy), the split of a decode context over the blocks of a cluster, and
// the merge of per-split softmax states. Scores are kept in the log2 domain (score * scale *
// log2(e), probabilities exp2(s - m)).
#pragma once

#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cuda/detail/block.h"

namespace qwen::kernels::cuda::detail {

inline constexpr float kLog2e = 1.4426950408889634f;

// log2 of a power of two (page sizes), -1 otherwise.
QWEN_HD_INLINE int Log2Exact(int64_t x) {
  if (x <= 0 || (x & (x - 1)) != 0) return -1;
  int l = 0;
  while ((int64_t{1} << l) < x) ++l;
  return l;
}

// Element offset of (token at absolute position `pos`, KV head g) in an NHD page pool
// [num_pages, page_size, Hkv, D], given the sequence's block-table row.
QWEN_HD_INLINE int64_t PagedKvOffset(const int32_t* block_table_row, int64_t pos, int log2_page,
                                     int64_t num_heads_kv, int64_t g, int64_t head_dim) {
  const int64_t page = block_table_row[pos >> log2_page];
  const int64_t row = pos & ((int64_t{1} << log2_page) - 1);
  return (((page << log2_page) + row) * num_heads_kv + g) * head_dim;
}

// Largest s in [0, num_seqs) with cu[s] <= t (cu non-decreasing, cu[0] = 0 <= t): the sequence of
// flattened token t, skipping empty sequences.
QWEN_HD_INLINE int SeqOfFlatToken(const int32_t* cu, int num_seqs, int64_t t) {
  int lo = 0, hi = num_seqs;
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
// KV append: item = (new token, KV head, vector of kVec elements), kAppendThreads items per block.

inline constexpr int kAppendThreads = 256;

struct KvAppendArgs {
  const __nv_bfloat16* k = nullptr;  // token t head g at [t * k_stride + g * D]
  const __nv_bfloat16* v = nullptr;
  const int32_t* cu_seqlens = nullptr;   // [S + 1]
  const int32_t* cached_lens = nullptr;  // [S]
  const int32_t* block_table = nullptr;  // [S, bt_stride]
  __nv_bfloat16* k_pages = nullptr;
  __nv_bfloat16* v_pages = nullptr;
  int64_t num_tokens = 0;
  int num_seqs = 0;
  int64_t num_heads_kv = 0;
  int64_t head_dim = 0;
  int log2_page = 4;
  int64_t bt_stride = 0;
  int64_t k_stride = 0;
  int64_t v_stride = 0;
};

// Copies kVec consecutive bf16 (16-byte accesses on the device when kVec == 8; the launcher checks
// the alignment).
template <int kVec>
QWEN_HD_INLINE void CopyBf16(__nv_bfloat16* dst, const __nv_bfloat16* src) {
#if defined(__CUDA_ARCH__)
  if constexpr (kVec == 8) {
    *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
    return;
  }
#endif
  std::memcpy(dst, src, sizeof(__nv_bfloat16) * kVec);
}

template <int kVec>
inline int64_t KvAppendItems(const KvAppendArgs& a) {
  return a.num_tokens * a.num_heads_kv * (a.head_dim / kVec);
}

template <int kVec, class Block>
QWEN_HD void KvAppendBlock(const Block& blk, int64_t bx, const KvAppendArgs& a) {
  blk.For(kAppendThreads, [&](int i) {
    const int64_t per_token = a.num_heads_kv * (a.head_dim / kVec);
    const int64_t e = bx * kAppendThreads + i;
    if (e >= a.num_tokens * per_token) return;
    const int64_t t = e / per_token;
    const int64_t rem = e - t * per_token;
    const int64_t g = rem / (a.head_dim / kVec);
    const int64_t c = (rem - g * (a.head_dim / kVec)) * kVec;
    if (t >= a.cu_seqlens[a.num_seqs]) return;  // past the last sequence: nothing to write
    const int s = SeqOfFlatToken(a.cu_seqlens, a.num_seqs, t);
    const int64_t pos = a.cached_lens[s] + (t - a.cu_seqlens[s]);
    const int64_t dst = PagedKvOffset(a.block_table + s * a.bt_stride, pos, a.log2_page,
                                      a.num_heads_kv, g, a.head_dim) +
                        c;
    CopyBf16<kVec>(a.k_pages + dst, a.k + t * a.k_stride + g * a.head_dim + c);
    CopyBf16<kVec>(a.v_pages + dst, a.v + t * a.v_stride + g * a.head_dim + c);
  });
}

// ---------------------------------------------------------------------------------------------
// Decode splits and the merge of their softmax states.

// KV range [*begin, *end) of split r of `splits` for a context of kv_len tokens: equal chunks,
// rounded up to whole tiles of `tile` tokens (trailing splits may be empty).
QWEN_HD_INLINE void DecodeSplitRange(int64_t kv_len, int splits, int r, int tile, int64_t* begin,
                                     int64_t* end) {
  int64_t chunk = CeilDiv<int64_t>(kv_len, splits);
  chunk = CeilDiv<int64_t>(chunk, tile) * tile;
  *begin = MinOf<int64_t>(kv_len, chunk * r);
  *end = MinOf<int64_t>(kv_len, *begin + chunk);
}

// Merges n partial softmax states of one query head (m_i: max log2-score of split i, -inf when the
// split was empty; l_i: sum of exp2(s - m_i); acc_i: sum of exp2(s - m_i) v) into
// out = sum_i acc_i w_i / sum_i l_i w_i with w_i = exp2(m_i - max_j m_j). At least one split must
// be non-empty. `acc` is read as acc[i * acc_stride].
QWEN_HD_INLINE float MergeSoftmaxStates(const float* m, const float* l, const float* acc,
                                        int64_t acc_stride, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = MaxOf(mx, m[i]);
  float den = 0.0f, num = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float w = exp2f(m[i] - mx);
    den += l[i] * w;
    num += acc[i * acc_stride] * w;
  }
  return num / den;
}

}  // namespace qwen::kernels::cuda::detail

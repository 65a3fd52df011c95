// CUDA causal GQA attention of the gated full-attention layers over a paged KV cache
// (MODEL.md 2.5 step 5; the CPU reference is kernels/attention.h CausalAttention, per sequence).
//
// KV pool layout (one per full-attention layer), "NHD" pages:
//   k_pages, v_pages: bf16 [num_pages, page_size, Hkv, D]; token j of a sequence lives in page
//   block_table[s * block_table_stride + j / page_size], row j % page_size.
// A flattened varlen batch of new query tokens: cu_seqlens int32 [S+1]; sequence s has
// cached_lens[s] tokens already in the cache before this step; its new token t (0-based) sits at
// absolute position cached_lens[s] + t and attends to cache tokens [0, cached_lens[s] + t].
// The new tokens' K/V must be appended (PagedKvAppend) before the attention call.
// Softmax in fp32 with scale `scale`; query head h uses KV head h / (Hq / Hkv).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen::kernels::cuda {

struct PagedKvParams {
  int64_t num_tokens = 0;          // N = cu_seqlens[S]
  int64_t num_seqs = 0;            // S
  int64_t num_heads_kv = 0;        // Hkv
  int64_t head_dim = 0;            // D (64, 128 or 256)
  int64_t page_size = 16;          // tokens per page
  int64_t block_table_stride = 0;  // int32 entries per block_table row (max pages per sequence)
  int64_t k_stride = 0;            // elements between consecutive new tokens of k (>= Hkv * D)
  int64_t v_stride = 0;            // elements between consecutive new tokens of v (>= Hkv * D)
};

// Writes the new tokens' K and V (bf16, token t head g at [t*k_stride + g*D]) into their pages.
cudaError_t PagedKvAppend(const __nv_bfloat16* k, const __nv_bfloat16* v, const int32_t* cu_seqlens,
                          const int32_t* cached_lens, const int32_t* block_table,
                          __nv_bfloat16* k_pages, __nv_bfloat16* v_pages, const PagedKvParams& p,
                          cudaStream_t stream);

struct PagedAttentionParams {
  int64_t num_tokens = 0;          // N
  int64_t num_seqs = 0;            // S
  int64_t max_query_len = 0;       // max over s of cu_seqlens[s+1] - cu_seqlens[s] (planning)
  int64_t num_heads_q = 0;         // Hq
  int64_t num_heads_kv = 0;        // Hkv
  int64_t head_dim = 0;            // D
  int64_t page_size = 16;
  int64_t block_table_stride = 0;
  int64_t q_stride = 0;            // elements between consecutive query tokens (>= Hq * D)
  int64_t q_head_stride = 0;       // elements between heads of one token (D, or 2D in the q|gate layout)
  int64_t out_stride = 0;          // elements between consecutive output tokens (>= Hq * D)
  float scale = 0.0f;              // D^-1/2
};

// out: bf16, token t head h at [t*out_stride + h*D]. Chooses a decode kernel when every sequence
// has one new token and a prefill kernel otherwise; both give the CPU reference's result within
// bf16 rounding of the output.
cudaError_t PagedAttention(const __nv_bfloat16* q, const __nv_bfloat16* k_pages,
                           const __nv_bfloat16* v_pages, const int32_t* cu_seqlens,
                           const int32_t* cached_lens, const int32_t* block_table,
                           __nv_bfloat16* out, const PagedAttentionParams& p, cudaStream_t stream);

}  // namespace qwen::kernels::cuda

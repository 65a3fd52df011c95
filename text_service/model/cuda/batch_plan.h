// The flattened varlen batch of the CUDA model and its host-side plan (no CUDA calls): validation,
// KV page reservation and the packing of every per-step index array into one int32 buffer that
// is uploaded with a single copy per forward (STYLE.md 6.2.10: host Plan, device Run).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "text_service/model/cuda/cache_allocator.h"

namespace qwen::text::cuda {

struct CudaSequenceSpan {
  int64_t length = 0;                // new tokens of this sequence (>= 1)
  CudaSequence* sequence = nullptr;  // continued from its num_tokens(); advanced by the forward
};

// All new tokens of all sequences, sequences contiguous and in order (rows of sequence s follow
// those of sequence s-1; the spans cover the N rows exactly).
struct CudaForwardBatch {
  std::span<const int64_t> token_ids = {};  // i64 [N], each in [0, vocab)
  // i64 [3, N] M-RoPE positions (rows T, H, W; MODEL.md 3). Empty: text positions
  // num_tokens + i + rope_delta on all three axes (MODEL.md 3.2).
  std::span<const int64_t> positions = {};
  std::vector<CudaSequenceSpan> sequences = {};
  // Optional injected embedding rows (multimodal placeholders, MODEL.md 5): f32 [R, H] on the host
  // and, per token, the row to use instead of the token's embedding (-1: the embedding of its
  // id). Both empty, or embed_index of size N.
  std::span<const float> embed_rows = {};
  std::span<const int32_t> embed_index = {};
};

// What the model's buffers were sized for.
struct BatchLimits {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t max_position_embeddings = 0;
  int64_t max_batched_tokens = 0;  // N capacity
  int64_t max_seqs = 0;            // S capacity
};

// The packed metadata of one step: offsets are in int32 elements from the start of the buffer;
// arrays are sized for this batch (N tokens, S sequences), back to back.
struct BatchPlan {
  int64_t num_tokens = 0;          // N
  int64_t num_seqs = 0;            // S
  int64_t max_query_len = 0;       // longest new span
  int64_t block_table_stride = 0;  // pages per block-table row (max over the batch, >= 1)
  // Every sequence has exactly one new token and a cached state: the decode kernels (conv update,
  // recurrent delta rule) run instead of the varlen prefill ones.
  bool decode_only = false;
  int64_t num_embed_rows = 0;  // R (0: no injection)

  int64_t token_ids = 0;          // i32 [N]
  int64_t positions = 0;          // i32 [3, N] (rows T, H, W)
  int64_t embed_index = 0;        // i32 [N] (-1 or a row of the injected rows)
  int64_t cu_seqlens = 0;         // i32 [S + 1]
  int64_t cached_lens = 0;        // i32 [S]: tokens in the cache before this step
  int64_t state_slots = 0;        // i32 [S]
  int64_t has_initial_state = 0;  // i32 [S]: 0 for a sequence's first forward
  int64_t last_rows = 0;          // i32 [S]: row of each sequence's last new token
  int64_t block_table = 0;        // i32 [S, block_table_stride] (unused entries 0)
  int64_t size = 0;               // int32 elements used
};

// Pads a decode batch to a fixed shape so that a CUDA graph captured for that shape can replay it
// (decode_graphs.h): `num_seqs` sequences in all, the ones past the batch's being dummies that use
// the state slot `slot` and the KV page `page` (their results are discarded and their writes land
// only there), and every block-table row `block_table_stride` pages wide.
struct DecodePadding {
  int64_t num_seqs = 0;            // >= the batch's sequences, <= max_seqs and max_batched_tokens
  int64_t block_table_stride = 0;  // >= the widest block-table row of the batch
  int32_t slot = -1;               // a state slot no live sequence uses
  int32_t page = 0;                // a KV page no live sequence uses
};

// Does every sequence of `batch` add exactly one token to a non-empty cache (a decode step)?
bool IsDecodeBatch(const CudaForwardBatch& batch);

// Block-table width (pages) the widest sequence of `batch` needs once its new tokens are in (>= 1).
int64_t BlockTableWidth(const CudaForwardBatch& batch, const CacheAllocator& allocator);

// int32 elements the packed metadata of any batch within `limits` can need when a sequence holds
// at most `max_pages_per_sequence` pages.
int64_t MetadataCapacity(const BatchLimits& limits, int64_t max_pages_per_sequence);

// Validates `batch` (token ids in range, spans contiguous and covering N rows, N <= capacity,
// S <= capacity, distinct live sequences of `allocator`, positions 3 x N within int32, context
// within max_position_embeddings, injection rows consistent), reserves the KV pages the new tokens
// need (all or nothing: ResourceExhausted when the cache is full), then packs the metadata into
// `out` (int32, `out_capacity` elements). On error nothing is reserved or changed. With `padding`
// (a decode batch only) the plan has padding->num_seqs tokens and sequences and that block-table
// stride; the real sequences come first.
absl::StatusOr<BatchPlan> PlanBatch(const CudaForwardBatch& batch, const BatchLimits& limits,
                                    CacheAllocator& allocator, int32_t* out, int64_t out_capacity,
                                    const DecodePadding* padding = nullptr);

}  // namespace qwen::text::cuda

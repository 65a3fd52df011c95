#include "text_service/model/cuda/batch_plan.h"

#include <algorithm>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace qwen::text::cuda {

int64_t MetadataCapacity(const BatchLimits& limits, int64_t max_pages_per_sequence) {
  const int64_t n = limits.max_batched_tokens, s = limits.max_seqs;
  return 5 * n + 5 * s + 1 + s * std::max<int64_t>(max_pages_per_sequence, 1);
}

namespace {

absl::Status Validate(const CudaForwardBatch& batch, const BatchLimits& limits,
                      const CacheAllocator& allocator) {
  const int64_t n = static_cast<int64_t>(batch.token_ids.size());
  const int64_t num_seqs = static_cast<int64_t>(batch.sequences.size());
  if (n == 0) return absl::InvalidArgumentError("empty batch: no tokens");
  if (n > limits.max_batched_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("batch of ", n,
                                                   " tokens exceeds the model's "
                                                   "max_batched_tokens of ",
                                                   limits.max_batched_tokens));
  }
  if (num_seqs > limits.max_seqs) {
    return absl::InvalidArgumentError(absl::StrCat("batch of ", num_seqs,
                                                   " sequences exceeds "
                                                   "the model's max_seqs of ",
                                                   limits.max_seqs));
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = batch.token_ids[i];
    if (id < 0 || id >= limits.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", id, " at position ", i, " is out of range [0, ", limits.vocab_size, ")"));
    }
  }
  if (!batch.positions.empty()) {
    if (static_cast<int64_t>(batch.positions.size()) != 3 * n) {
      return absl::InvalidArgumentError(
          absl::StrCat("positions has ", batch.positions.size(), " entries; expected 3 x ", n));
    }
    for (int64_t p : batch.positions) {
      if (p < 0 || p > std::numeric_limits<int32_t>::max()) {
        return absl::InvalidArgumentError(absl::StrCat("position ", p, " is out of range"));
      }
    }
  }
  int64_t rows = 0;
  std::set<const CudaSequence*> seen;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const CudaSequenceSpan& span = batch.sequences[s];
    if (span.sequence == nullptr || !span.sequence->valid() ||
        span.sequence->owner() != &allocator) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence ", s, " is not a live sequence of this model"));
    }
    if (span.length < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence ", s, " has ", span.length, " new tokens; expected >= 1"));
    }
    if (!seen.insert(span.sequence).second) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " repeats a sequence"));
    }
    const int64_t total = span.sequence->num_tokens() + span.length;
    if (total > limits.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " would hold ", total,
                                                     " tokens, over the model's context of ",
                                                     limits.max_position_embeddings));
    }
    if (batch.positions.empty()) {
      const int64_t last = total - 1 + span.sequence->rope_delta();
      const int64_t first = span.sequence->num_tokens() + span.sequence->rope_delta();
      if (first < 0 || last > std::numeric_limits<int32_t>::max()) {
        return absl::InvalidArgumentError(
            absl::StrCat("sequence ", s, " has text positions out of range (rope_delta ",
                         span.sequence->rope_delta(), ")"));
      }
    }
    rows += span.length;
  }
  if (rows != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("sequence spans cover ", rows, " rows of a ", n, "-token batch"));
  }
  if (!batch.embed_rows.empty() || !batch.embed_index.empty()) {
    const int64_t h = limits.hidden_size;
    const int64_t values = static_cast<int64_t>(batch.embed_rows.size());
    if (values % h != 0 || values / h > limits.max_batched_tokens) {
      return absl::InvalidArgumentError(absl::StrCat("embed_rows has ", values,
                                                     " values; expected R x ", h,
                                                     " with R <= ", limits.max_batched_tokens));
    }
    if (static_cast<int64_t>(batch.embed_index.size()) != n) {
      return absl::InvalidArgumentError(
          absl::StrCat("embed_index has ", batch.embed_index.size(), " entries; expected ", n));
    }
    for (int64_t i = 0; i < n; ++i) {
      const int32_t r = batch.embed_index[i];
      if (r < -1 || r >= values / h) {
        return absl::InvalidArgumentError(
            absl::StrCat("embed_index[", i, "] = ", r, " is out of range [-1, ", values / h, ")"));
      }
    }
  }
  // KV pages: all or nothing for the whole batch.
  int64_t need = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const CudaSequence& seq = *batch.sequences[s].sequence;
    const int64_t total = seq.num_tokens() + batch.sequences[s].length;
    const int64_t more = allocator.PagesNeeded(seq, total);
    if (static_cast<int64_t>(seq.pages().size()) + more > allocator.max_pages_per_sequence()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sequence ", s, " would hold ", total, " tokens, over the per-sequence KV limit of ",
          allocator.max_pages_per_sequence() * allocator.page_size(), " tokens (max_context)"));
    }
    need += more;
  }
  if (need > allocator.num_free_pages()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the KV cache is full: this batch needs ", need, " more pages of ",
                     allocator.page_size(), " tokens but only ", allocator.num_free_pages(), " of ",
                     allocator.num_pages(), " are free"));
  }
  return absl::OkStatus();
}

absl::Status CheckPadding(const CudaForwardBatch& batch, const BatchLimits& limits,
                          const CacheAllocator& allocator, const DecodePadding& pad) {
  if (!IsDecodeBatch(batch) || !batch.embed_rows.empty() || !batch.positions.empty()) {
    return absl::InternalError("only a plain decode batch can be padded");
  }
  const int64_t s = static_cast<int64_t>(batch.sequences.size());
  if (pad.num_seqs < s || pad.num_seqs > limits.max_seqs ||
      pad.num_seqs > limits.max_batched_tokens) {
    return absl::InternalError(
        absl::StrCat("cannot pad a decode batch of ", s, " sequences to ", pad.num_seqs));
  }
  if (pad.block_table_stride < BlockTableWidth(batch, allocator) ||
      pad.block_table_stride > std::max<int64_t>(allocator.max_pages_per_sequence(), 1)) {
    return absl::InternalError(
        absl::StrCat("padded block-table stride ", pad.block_table_stride, " does not fit"));
  }
  if (pad.slot < 0 || pad.slot >= allocator.num_slots()) {
    return absl::InternalError(absl::StrCat("padding slot ", pad.slot, " is out of range"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsDecodeBatch(const CudaForwardBatch& batch) {
  if (batch.sequences.empty()) return false;
  for (const CudaSequenceSpan& span : batch.sequences) {
    if (span.length != 1 || span.sequence == nullptr || span.sequence->num_tokens() == 0) {
      return false;
    }
  }
  return true;
}

int64_t BlockTableWidth(const CudaForwardBatch& batch, const CacheAllocator& allocator) {
  int64_t max_pages = 1;
  for (const CudaSequenceSpan& span : batch.sequences) {
    if (span.sequence == nullptr) continue;
    const int64_t total = span.sequence->num_tokens() + span.length;
    max_pages = std::max(max_pages, static_cast<int64_t>(span.sequence->pages().size()) +
                                        allocator.PagesNeeded(*span.sequence, total));
  }
  return max_pages;
}

absl::StatusOr<BatchPlan> PlanBatch(const CudaForwardBatch& batch, const BatchLimits& limits,
                                    CacheAllocator& allocator, int32_t* out, int64_t out_capacity,
                                    const DecodePadding* padding) {
  QWEN_RETURN_IF_ERROR(Validate(batch, limits, allocator));
  if (padding != nullptr) QWEN_RETURN_IF_ERROR(CheckPadding(batch, limits, allocator, *padding));
  BatchPlan p;
  const int64_t real_seqs = static_cast<int64_t>(batch.sequences.size());
  const int64_t real_tokens = static_cast<int64_t>(batch.token_ids.size());
  p.num_tokens = padding != nullptr ? padding->num_seqs : real_tokens;
  p.num_seqs = padding != nullptr ? padding->num_seqs : real_seqs;
  const int64_t n = p.num_tokens, s_count = p.num_seqs;
  p.decode_only = IsDecodeBatch(batch);
  for (const CudaSequenceSpan& span : batch.sequences) {
    p.max_query_len = std::max(p.max_query_len, span.length);
  }
  p.block_table_stride =
      padding != nullptr ? padding->block_table_stride : BlockTableWidth(batch, allocator);
  p.num_embed_rows = static_cast<int64_t>(batch.embed_rows.size()) / limits.hidden_size;

  int64_t at = 0;
  auto take = [&at](int64_t count) {
    const int64_t o = at;
    at += count;
    return o;
  };
  p.token_ids = take(n);
  p.positions = take(3 * n);
  p.embed_index = take(n);
  p.cu_seqlens = take(s_count + 1);
  p.cached_lens = take(s_count);
  p.state_slots = take(s_count);
  p.has_initial_state = take(s_count);
  p.last_rows = take(s_count);
  p.block_table = take(s_count * p.block_table_stride);
  p.size = at;
  if (p.size > out_capacity) {
    return absl::InternalError(absl::StrCat("batch metadata of ", p.size,
                                            " entries exceeds its buffer of ", out_capacity));
  }

  // Every check has passed: reserve the pages (cannot fail now), then pack.
  for (const CudaSequenceSpan& span : batch.sequences) {
    QWEN_RETURN_IF_ERROR(
        allocator.Reserve(*span.sequence, span.sequence->num_tokens() + span.length));
  }
  for (int64_t i = 0; i < real_tokens; ++i) {
    out[p.token_ids + i] = static_cast<int32_t>(batch.token_ids[i]);
  }
  for (int64_t i = 0; i < n; ++i) {
    out[p.embed_index + i] = batch.embed_index.empty() ? -1 : batch.embed_index[i];
  }
  int64_t row = 0;
  std::fill(out + p.block_table, out + p.block_table + s_count * p.block_table_stride, 0);
  for (int64_t s = 0; s < real_seqs; ++s) {
    const CudaSequenceSpan& span = batch.sequences[s];
    const CudaSequence& seq = *span.sequence;
    out[p.cu_seqlens + s] = static_cast<int32_t>(row);
    out[p.cached_lens + s] = static_cast<int32_t>(seq.num_tokens());
    out[p.state_slots + s] = seq.slot();
    out[p.has_initial_state + s] = seq.num_tokens() > 0 ? 1 : 0;
    out[p.last_rows + s] = static_cast<int32_t>(row + span.length - 1);
    for (size_t j = 0; j < seq.pages().size(); ++j) {
      out[p.block_table + s * p.block_table_stride + static_cast<int64_t>(j)] = seq.pages()[j];
    }
    if (batch.positions.empty()) {
      for (int64_t i = 0; i < span.length; ++i) {
        const int32_t pos = static_cast<int32_t>(seq.num_tokens() + i + seq.rope_delta());
        for (int64_t axis = 0; axis < 3; ++axis) out[p.positions + axis * n + row + i] = pos;
      }
    }
    row += span.length;
  }
  // Padding sequences: one token each (id 0, position 0) on an empty cache in the padding slot
  // and page; nothing reads what they write.
  for (int64_t s = real_seqs; s < s_count; ++s, ++row) {
    out[p.token_ids + row] = 0;
    for (int64_t axis = 0; axis < 3; ++axis) out[p.positions + axis * n + row] = 0;
    out[p.cu_seqlens + s] = static_cast<int32_t>(row);
    out[p.cached_lens + s] = 0;
    out[p.state_slots + s] = padding->slot;
    out[p.has_initial_state + s] = 1;
    out[p.last_rows + s] = static_cast<int32_t>(row);
    out[p.block_table + s * p.block_table_stride] = padding->page;
  }
  out[p.cu_seqlens + s_count] = static_cast<int32_t>(row);
  if (!batch.positions.empty()) {
    for (int64_t i = 0; i < 3 * n; ++i) {
      out[p.positions + i] = static_cast<int32_t>(batch.positions[i]);
    }
  }
  return p;
}

}  // namespace qwen::text::cuda

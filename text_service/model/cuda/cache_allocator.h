// Host-side bookkeeping of the GPU decoder state (no CUDA calls, so it is unit-tested anywhere):
// free lists of KV-cache pages (full-attention layers) and DeltaNet state slots (linear-attention
// layers), and the move-only per-sequence handle that owns one slot and the pages of its tokens.
//
// One sequence = one state slot (the same index in every linear layer's conv and recurrent pools)
// + a list of pages (the same page ids in every full-attention layer's K and V pools): the
// hybrid memory of STYLE.md 6.2.9 with one lifecycle. Destroying (or Release()-ing) a handle
// returns everything to the free lists; a reused slot needs no clearing because the first forward
// of a sequence tells the kernels to start from zero state (has_initial_state = 0).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace qwen::text::cuda {

// A LIFO free list of the integers [0, capacity).
class IndexPool {
 public:
  explicit IndexPool(int64_t capacity);
  int64_t capacity() const { return capacity_; }
  int64_t num_free() const { return static_cast<int64_t>(free_.size()); }
  // -1 when empty.
  int32_t Allocate();
  // Returns `index` (must be allocated: double frees are bugs and abort).
  void Free(int32_t index);

 private:
  int64_t capacity_;
  std::vector<int32_t> free_;
  std::vector<bool> used_;
};

class CacheAllocator;

// The decoder state of one sequence on the GPU. Move-only; frees its slot and pages when
// destroyed. Must not outlive the model (its CacheAllocator) that made it.
class CudaSequence {
 public:
  CudaSequence() = default;
  ~CudaSequence() { Release(); }
  CudaSequence(CudaSequence&& o) noexcept;
  CudaSequence& operator=(CudaSequence&& o) noexcept;
  CudaSequence(const CudaSequence&) = delete;
  CudaSequence& operator=(const CudaSequence&) = delete;

  bool valid() const { return owner_ != nullptr; }
  // DeltaNet state slot (index into every linear layer's pools).
  int32_t slot() const { return slot_; }
  // KV pages in token order: token j lives in page pages()[j / page_size], row j % page_size.
  const std::vector<int32_t>& pages() const { return pages_; }
  // Tokens already in the cache (the cached length of the next forward).
  int64_t num_tokens() const { return num_tokens_; }
  // M-RoPE offset of decode positions: position = num_tokens + rope_delta (MODEL.md 3.2).
  int64_t rope_delta() const { return rope_delta_; }
  void set_rope_delta(int64_t delta) { rope_delta_ = delta; }
  const CacheAllocator* owner() const { return owner_; }
  // Returns the slot and pages to the allocator now; the handle becomes invalid.
  void Release();

 private:
  friend class CacheAllocator;
  CacheAllocator* owner_ = nullptr;
  int32_t slot_ = -1;
  std::vector<int32_t> pages_;
  int64_t num_tokens_ = 0;
  int64_t rope_delta_ = 0;
};

class CacheAllocator {
 public:
  // `max_pages_per_sequence` bounds one sequence's block-table row (its context / page_size).
  // num_pages may be 0 for a model without full-attention layers (then pages are not tracked).
  CacheAllocator(int64_t num_slots, int64_t num_pages, int64_t page_size,
                 int64_t max_pages_per_sequence, bool uses_pages);
  CacheAllocator(const CacheAllocator&) = delete;
  CacheAllocator& operator=(const CacheAllocator&) = delete;

  // A new empty sequence holding one state slot; ResourceExhausted when every slot is taken.
  absl::StatusOr<CudaSequence> NewSequence();

  // Pages `sequence` still needs to hold `total_tokens` tokens (0 when it has enough).
  int64_t PagesNeeded(const CudaSequence& sequence, int64_t total_tokens) const;
  // Grows `sequence`'s pages to hold `total_tokens` tokens. All or nothing: InvalidArgument when
  // that exceeds max_pages_per_sequence, ResourceExhausted when too few pages are free.
  absl::Status Reserve(CudaSequence& sequence, int64_t total_tokens);
  // Records that a forward has put `n` more tokens into `sequence`'s cache.
  void Advance(CudaSequence& sequence, int64_t n) { sequence.num_tokens_ += n; }

  int64_t page_size() const { return page_size_; }
  int64_t max_pages_per_sequence() const { return max_pages_per_sequence_; }
  bool uses_pages() const { return uses_pages_; }
  int64_t num_slots() const { return slots_.capacity(); }
  int64_t num_free_slots() const { return slots_.num_free(); }
  int64_t num_pages() const { return pages_.capacity(); }
  int64_t num_free_pages() const { return pages_.num_free(); }

 private:
  friend class CudaSequence;
  void Free(CudaSequence& sequence);

  IndexPool slots_;
  IndexPool pages_;
  int64_t page_size_;
  int64_t max_pages_per_sequence_;
  bool uses_pages_;
};

}  // namespace qwen::text::cuda

#include "text_service/model/cuda/cache_allocator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/logging.h"

namespace qwen::text::cuda {

IndexPool::IndexPool(int64_t capacity)
    : capacity_(capacity), used_(static_cast<size_t>(capacity), false) {
  free_.reserve(static_cast<size_t>(capacity));
  // LIFO with the lowest index on top: index 0 is handed out first.
  for (int64_t i = capacity - 1; i >= 0; --i) free_.push_back(static_cast<int32_t>(i));
}

int32_t IndexPool::Allocate() {
  if (free_.empty()) return -1;
  const int32_t i = free_.back();
  free_.pop_back();
  used_[static_cast<size_t>(i)] = true;
  return i;
}

void IndexPool::Free(int32_t index) {
  QWEN_CHECK(index >= 0 && index < capacity_ && used_[static_cast<size_t>(index)])
      << "IndexPool::Free of index " << index << " that is not allocated";
  used_[static_cast<size_t>(index)] = false;
  free_.push_back(index);
}

CudaSequence::CudaSequence(CudaSequence&& o) noexcept
    : owner_(std::exchange(o.owner_, nullptr)),
      slot_(std::exchange(o.slot_, -1)),
      pages_(std::move(o.pages_)),
      num_tokens_(std::exchange(o.num_tokens_, 0)),
      rope_delta_(std::exchange(o.rope_delta_, 0)) {
  o.pages_.clear();
}

CudaSequence& CudaSequence::operator=(CudaSequence&& o) noexcept {
  if (this != &o) {
    Release();
    owner_ = std::exchange(o.owner_, nullptr);
    slot_ = std::exchange(o.slot_, -1);
    pages_ = std::move(o.pages_);
    o.pages_.clear();
    num_tokens_ = std::exchange(o.num_tokens_, 0);
    rope_delta_ = std::exchange(o.rope_delta_, 0);
  }
  return *this;
}

void CudaSequence::Release() {
  if (owner_ != nullptr) owner_->Free(*this);
  owner_ = nullptr;
  slot_ = -1;
  pages_.clear();
  num_tokens_ = 0;
  rope_delta_ = 0;
}

CacheAllocator::CacheAllocator(int64_t num_slots, int64_t num_pages, int64_t page_size,
                               int64_t max_pages_per_sequence, bool uses_pages)
    : slots_(num_slots),
      pages_(num_pages),
      page_size_(page_size),
      max_pages_per_sequence_(max_pages_per_sequence),
      uses_pages_(uses_pages) {}

absl::StatusOr<CudaSequence> CacheAllocator::NewSequence() {
  const int32_t slot = slots_.Allocate();
  if (slot < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("all ", slots_.capacity(),
                     " sequence state slots are in use (max_slots); free a "
                     "sequence first or load the model with more slots"));
  }
  CudaSequence s;
  s.owner_ = this;
  s.slot_ = slot;
  return s;
}

int64_t CacheAllocator::PagesNeeded(const CudaSequence& sequence, int64_t total_tokens) const {
  if (!uses_pages_) return 0;
  const int64_t want = (total_tokens + page_size_ - 1) / page_size_;
  const int64_t have = static_cast<int64_t>(sequence.pages_.size());
  return want > have ? want - have : 0;
}

absl::Status CacheAllocator::Reserve(CudaSequence& sequence, int64_t total_tokens) {
  QWEN_CHECK(sequence.owner_ == this) << "a sequence reserved on another model's allocator";
  const int64_t need = PagesNeeded(sequence, total_tokens);
  if (need == 0) return absl::OkStatus();
  const int64_t total_pages = static_cast<int64_t>(sequence.pages_.size()) + need;
  if (total_pages > max_pages_per_sequence_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a sequence of ", total_tokens, " tokens needs ", total_pages, " KV pages of ", page_size_,
        " tokens, over the per-sequence limit of ", max_pages_per_sequence_, " (max_context ",
        max_pages_per_sequence_ * page_size_, ")"));
  }
  if (need > pages_.num_free()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the KV cache is full: a sequence of ", total_tokens, " tokens needs ", need,
                     " more pages of ", page_size_, " tokens but only ", pages_.num_free(), " of ",
                     pages_.capacity(), " are free"));
  }
  for (int64_t i = 0; i < need; ++i) sequence.pages_.push_back(pages_.Allocate());
  return absl::OkStatus();
}

void CacheAllocator::Free(CudaSequence& sequence) {
  for (int32_t p : sequence.pages_) pages_.Free(p);
  sequence.pages_.clear();
  if (sequence.slot_ >= 0) slots_.Free(sequence.slot_);
  sequence.slot_ = -1;
}

}  // namespace qwen::text::cuda

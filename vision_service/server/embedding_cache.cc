#include "vision_service/server/embedding_cache.h"

namespace qwen::vision {

std::shared_ptr<const EncodedItem> EmbeddingCache::Lookup(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void EmbeddingCache::Insert(const std::string& key, std::shared_ptr<const EncodedItem> item) {
  if (item == nullptr) return;
  Entry entry{key, std::move(item)};
  const size_t size = EntryBytes(entry);
  if (size > max_bytes_) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    bytes_ -= EntryBytes(*it->second);
    lru_.erase(it->second);
    index_.erase(it);
  }
  while (!lru_.empty() && bytes_ + size > max_bytes_) {
    bytes_ -= EntryBytes(lru_.back());
    index_.erase(lru_.back().first);
    lru_.pop_back();
    ++evictions_;
  }
  lru_.push_front(std::move(entry));
  index_[key] = lru_.begin();
  bytes_ += size;
}

CacheStats EmbeddingCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {.hits = hits_, .misses = misses_, .entries = static_cast<int64_t>(lru_.size()),
          .evictions = evictions_, .bytes = bytes_, .max_bytes = max_bytes_};
}

}  // namespace qwen::vision

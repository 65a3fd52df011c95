// A bounded LRU cache of encoder results, keyed by content hash + pre-processing parameters, with a
// byte budget (embeddings are f32, so one 1024x1024 image at hidden 4096 costs 16 MiB). Entries are
// shared and immutable: an eviction never invalidates a result a stream is still sending.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "vision_service/server/encode_types.h"

namespace qwen::vision {

struct CacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t entries = 0;
  int64_t evictions = 0;
  size_t bytes = 0;
  size_t max_bytes = 0;
};

class EmbeddingCache {
 public:
  // max_bytes = 0 disables the cache (every lookup misses, nothing is kept).
  explicit EmbeddingCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The entry (now most recently used) or nullptr; counts a hit or a miss.
  std::shared_ptr<const EncodedItem> Lookup(const std::string& key);
  // Inserts or refreshes; evicts least recently used entries until the budget holds. An entry
  // larger than the whole budget is not kept.
  void Insert(const std::string& key, std::shared_ptr<const EncodedItem> item);
  CacheStats stats() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const EncodedItem>>;
  static size_t EntryBytes(const Entry& e) { return e.first.size() + e.second->bytes(); }

  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
  int64_t evictions_ = 0;
};

}  // namespace qwen::vision

// Byte-level BPE model (Hugging Face `tokenizers` `models.BPE` without dropout, unknown token,
// byte fallback or subword prefixes/suffixes): tokens are raw byte strings, and a piece is
// encoded by starting from its single bytes and repeatedly applying the lowest-ranked merge
// (leftmost first among equal ranks) until none applies.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"

namespace qwen::gateway {

class BpeModel {
 public:
  struct Options {
    // HF `ignore_merges`: a piece that is a vocabulary token is taken whole, merges unused.
    bool ignore_merges = false;
    // Upper bound on cached piece encodings (shared by all threads); 0 disables the cache.
    size_t cache_capacity = 1 << 17;
  };

  // `vocab`: (token bytes, id) pairs; ids are >= 0 and unique, tokens unique. `merges`: pairs of
  // token bytes in rank order (rank = index). Each side and their concatenation must be in the
  // vocabulary. A repeated pair keeps the rank of its last occurrence (as HF does). An entry of
  // two empty strings is skipped but still takes its rank.
  // InvalidArgument names the offending entry.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(
      std::vector<std::pair<std::string, int32_t>> vocab,
      const std::vector<std::pair<std::string, std::string>>& merges, const Options& options);

  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;
  ~BpeModel();

  // Appends the ids of `piece` (raw bytes, non-empty) to `ids`. Bytes that have no single-byte
  // token are dropped, as HF does without an unknown token. Thread-safe.
  void Encode(std::string_view piece, std::vector<int32_t>* ids) const;

  // Id of the token whose bytes are `bytes`, if any.
  std::optional<int32_t> Find(std::string_view bytes) const;
  // Bytes of token `id`, or nullopt when no token has that id.
  std::optional<std::string_view> TokenBytes(int32_t id) const;
  // One past the largest token id.
  int32_t id_limit() const { return static_cast<int32_t>(entries_.size()); }
  size_t vocab_size() const { return vocab_.size(); }
  size_t merge_count() const { return merges_.size(); }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;
  };
  struct Entry {
    uint32_t offset = 0;
    int32_t length = -1;  // -1: no token with this id
  };
  using Symbols = absl::InlinedVector<int32_t, 32>;
  struct CacheShard;

  BpeModel();

  static uint64_t PairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const Merge* FindMerge(int32_t a, int32_t b) const {
    auto it = merges_.find(PairKey(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }
  // Runs the merge loop on the single-byte symbols of `piece`.
  void MergePiece(std::string_view piece, Symbols* symbols) const;
  void MergeSmall(Symbols* symbols) const;
  void MergeLarge(Symbols* symbols) const;

  Options options_;
  std::string storage_;  // all token bytes; vocab_ keys view into it (never modified after Create)
  std::vector<Entry> entries_;  // by id
  absl::flat_hash_map<std::string_view, int32_t> vocab_;
  absl::flat_hash_map<uint64_t, Merge> merges_;
  int32_t byte_ids_[256];
  // whole_[id]: encoding the bytes of token `id` yields exactly [id], so a piece equal to a token
  // with this bit set needs no merging. Precomputed at load; makes most pieces one hash lookup.
  std::vector<bool> whole_;
  size_t shard_capacity_ = 0;
  std::unique_ptr<CacheShard[]> cache_;
};

}  // namespace qwen::gateway

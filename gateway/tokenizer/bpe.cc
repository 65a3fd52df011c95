#include "gateway/tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace qwen::gateway {
namespace {

constexpr size_t kCacheShards = 16;
// Pieces longer than this are not cached: they are rare, and long keys would crowd the cache.
constexpr size_t kMaxCachedPieceBytes = 64;
// Pieces with more symbols use the heap-based merge loop (O(n log n)) instead of the scan.
constexpr size_t kSmallPieceSymbols = 48;

// Token bytes for messages: printable ASCII as is, other bytes as \xNN.
std::string Printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F) {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(b, absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace

struct BpeModel::CacheShard {
  absl::Mutex mu;
  absl::flat_hash_map<std::string, absl::InlinedVector<int32_t, 4>> map ABSL_GUARDED_BY(mu);
};

BpeModel::BpeModel() { std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1); }
BpeModel::~BpeModel() = default;

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(
    std::vector<std::pair<std::string, int32_t>> vocab,
    const std::vector<std::pair<std::string, std::string>>& merges, const Options& options) {
  std::unique_ptr<BpeModel> model(new BpeModel());
  model->options_ = options;
  if (vocab.empty()) return absl::InvalidArgumentError("the BPE vocabulary is empty");
  size_t total = 0;
  int32_t max_id = -1;
  for (const auto& [bytes, id] : vocab) {
    if (id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("vocabulary token '", Printable(bytes), "' has negative id ", id));
    }
    if (bytes.empty()) return absl::InvalidArgumentError("the vocabulary has an empty token");
    total += bytes.size();
    max_id = std::max(max_id, id);
  }
  if (max_id >= (1 << 30)) {
    return absl::InvalidArgumentError(absl::StrCat("vocabulary id ", max_id, " is too large"));
  }
  model->storage_.reserve(total);
  model->entries_.resize(static_cast<size_t>(max_id) + 1);
  for (const auto& [bytes, id] : vocab) {
    Entry& e = model->entries_[id];
    if (e.length >= 0) {
      return absl::InvalidArgumentError(absl::StrCat("vocabulary id ", id, " is used twice"));
    }
    e.offset = static_cast<uint32_t>(model->storage_.size());
    e.length = static_cast<int32_t>(bytes.size());
    model->storage_.append(bytes);
  }
  vocab.clear();
  model->vocab_.reserve(model->entries_.size());
  for (int32_t id = 0; id <= max_id; ++id) {
    const Entry& e = model->entries_[id];
    if (e.length < 0) continue;
    const std::string_view bytes(model->storage_.data() + e.offset, e.length);
    if (!model->vocab_.emplace(bytes, id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("vocabulary token '", Printable(bytes), "' appears twice"));
    }
    if (bytes.size() == 1) model->byte_ids_[static_cast<unsigned char>(bytes[0])] = id;
  }

  model->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    if (a.empty() && b.empty()) continue;  // a placeholder that keeps the ranks after it
    const std::optional<int32_t> a_id = model->Find(a);
    const std::optional<int32_t> b_id = model->Find(b);
    const std::optional<int32_t> merged = model->Find(a + b);
    if (!a_id || !b_id || !merged) {
      return absl::InvalidArgumentError(absl::StrCat("merge ", rank, " ('", Printable(a), "' + '",
                                                     Printable(b), "'): token '",
                                                     Printable(!a_id   ? a
                                                               : !b_id ? b
                                                                       : a + b),
                                                     "' is not in the vocabulary"));
    }
    model->merges_.insert_or_assign(PairKey(*a_id, *b_id),
                                    Merge{static_cast<int32_t>(rank), *merged});
  }

  // Which tokens come out whole when their own bytes are encoded (see whole_).
  model->whole_.assign(model->entries_.size(), false);
  Symbols symbols;
  for (int32_t id = 0; id <= max_id; ++id) {
    const Entry& e = model->entries_[id];
    if (e.length < 0) continue;
    const std::string_view bytes(model->storage_.data() + e.offset, e.length);
    if (options.ignore_merges) {
      model->whole_[id] = true;
      continue;
    }
    model->MergePiece(bytes, &symbols);
    model->whole_[id] = symbols.size() == 1 && symbols[0] == id;
  }

  if (options.cache_capacity > 0) {
    model->shard_capacity_ = std::max<size_t>(1, options.cache_capacity / kCacheShards);
    model->cache_ = std::make_unique<CacheShard[]>(kCacheShards);
  }
  return model;
}

std::optional<int32_t> BpeModel::Find(std::string_view bytes) const {
  auto it = vocab_.find(bytes);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string_view> BpeModel::TokenBytes(int32_t id) const {
  if (id < 0 || id >= id_limit() || entries_[id].length < 0) return std::nullopt;
  return std::string_view(storage_.data() + entries_[id].offset, entries_[id].length);
}

void BpeModel::Encode(std::string_view piece, std::vector<int32_t>* ids) const {
  auto it = vocab_.find(piece);
  if (it != vocab_.end() && whole_[it->second]) {
    ids->push_back(it->second);
    return;
  }
  const bool cacheable = cache_ != nullptr && piece.size() <= kMaxCachedPieceBytes;
  CacheShard* shard = nullptr;
  if (cacheable) {
    // The top bits pick the shard: the map itself uses the low 7 bits for its control bytes.
    shard = &cache_[(absl::Hash<std::string_view>{}(piece) >> 60) % kCacheShards];
    absl::ReaderMutexLock lock(&shard->mu);
    // Debian's Abseil has its own string_view: heterogeneous lookup needs that type.
    auto hit = shard->map.find(absl::string_view(piece.data(), piece.size()));
    if (hit != shard->map.end()) {
      ids->insert(ids->end(), hit->second.begin(), hit->second.end());
      return;
    }
  }
  Symbols symbols;
  MergePiece(piece, &symbols);
  ids->insert(ids->end(), symbols.begin(), symbols.end());
  if (cacheable) {
    absl::MutexLock lock(&shard->mu);
    // Bounded memory: a full shard starts over rather than tracking recency.
    if (shard->map.size() >= shard_capacity_) shard->map.clear();
    shard->map.try_emplace(std::string(piece), symbols.begin(), symbols.end());
  }
}

void BpeModel::MergePiece(std::string_view piece, Symbols* symbols) const {
  symbols->clear();
  for (char c : piece) {
    const int32_t id = byte_ids_[static_cast<unsigned char>(c)];
    if (id >= 0) symbols->push_back(id);
  }
  if (options_.ignore_merges && symbols->size() > 1) {
    if (std::optional<int32_t> whole = Find(piece)) {
      symbols->assign(1, *whole);
      return;
    }
  }
  if (symbols->size() < 2) return;
  if (symbols->size() <= kSmallPieceSymbols) {
    MergeSmall(symbols);
  } else {
    MergeLarge(symbols);
  }
}

// Quadratic but allocation-free scan; fastest for the short pieces that dominate real text.
void BpeModel::MergeSmall(Symbols* symbols) const {
  Symbols& s = *symbols;
  absl::InlinedVector<Merge, 32> pairs(s.size() - 1);
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    const Merge* m = FindMerge(s[i], s[i + 1]);
    pairs[i] = m ? *m : Merge{INT_MAX, -1};
  }
  while (!pairs.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < pairs.size(); ++i) {
      if (pairs[i].rank < pairs[best].rank) best = i;
    }
    if (pairs[best].rank == INT_MAX) break;
    s[best] = pairs[best].merged;
    s.erase(s.begin() + best + 1);
    pairs.erase(pairs.begin() + best);
    if (best > 0) {
      const Merge* m = FindMerge(s[best - 1], s[best]);
      pairs[best - 1] = m ? *m : Merge{INT_MAX, -1};
    }
    if (best < pairs.size()) {
      const Merge* m = FindMerge(s[best], s[best + 1]);
      pairs[best] = m ? *m : Merge{INT_MAX, -1};
    }
  }
}

// The algorithm of HF's `Word::merge_all`: a doubly linked list of symbols and a min-heap of
// candidate merges keyed by (rank, position). A popped candidate is stale when its symbols have
// changed since it was pushed; a pair always maps to the same merge, so comparing the two symbol
// ids is enough. Inline storage keeps typical pieces free of heap allocations.
void BpeModel::MergeLarge(Symbols* symbols) const {
  Symbols& s = *symbols;
  const int n = static_cast<int>(s.size());
  absl::InlinedVector<int, 128> prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t left;
    int32_t right;
    int32_t merged;
  };
  // std::push_heap / pop_heap build a max-heap: "less" means "pops later".
  const auto pops_later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  absl::InlinedVector<Candidate, 128> heap;
  const auto push = [&](int pos) {
    const int right = next[pos];
    if (const Merge* m = FindMerge(s[pos], s[right])) {
      heap.push_back({m->rank, pos, s[pos], s[right], m->merged});
      std::push_heap(heap.begin(), heap.end(), pops_later);
    }
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), pops_later);
    const Candidate top = heap.back();
    heap.pop_back();
    const int pos = top.pos;
    const int right = next[pos];
    // Dead symbols have s == -1; a live one keeps its ids until it merges.
    if (s[pos] != top.left || right < 0 || s[right] != top.right) continue;
    s[pos] = top.merged;
    s[right] = -1;
    next[pos] = next[right];
    if (next[pos] >= 0) prev[next[pos]] = pos;
    if (prev[pos] >= 0) push(prev[pos]);
    if (next[pos] >= 0) push(pos);
  }
  // Compact in place; position 0 always survives (a merge keeps its left symbol).
  size_t kept = 0;
  for (int i = 0; i >= 0; i = next[i]) s[kept++] = s[i];
  s.resize(kept);
}

}  // namespace qwen::gateway

#include "gateway/tokenizer/tokenizer.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/tokenizer/added_tokens.h"
#include "gateway/tokenizer/bpe.h"
#include "gateway/tokenizer/byte_level.h"
#include "gateway/tokenizer/pretokenizer.h"
#include "gateway/tokenizer/tokenizer_spec.h"
#include "gateway/tokenizer/unicode.h"

namespace qwen::gateway {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return std::move(buf).str();
}

bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

struct Tokenizer::Impl {
  struct DecodeEntry {
    uint32_t offset = 0;
    int32_t length = -1;  // -1: not a token
    bool special = false;
  };

  std::unique_ptr<BpeModel> bpe;
  bool nfc = false;
  PretokenizerPattern pattern = PretokenizerPattern::kQwen35;
  std::vector<AddedToken> added;
  AddedTokenMatcher raw_matcher;         // normalized == false: matched in the raw text
  AddedTokenMatcher normalized_matcher;  // normalized == true: matched after normalization
  absl::flat_hash_map<std::string, int32_t> added_by_content;
  absl::flat_hash_map<int32_t, size_t> added_by_id;  // index into `added`
  absl::flat_hash_map<std::string, int32_t> foreign_by_spelling;
  absl::flat_hash_map<int32_t, std::string> foreign_by_id;
  std::string decode_storage;
  std::vector<DecodeEntry> decode;  // by id

  void EncodeWords(std::string_view text, std::vector<int32_t>* ids) const {
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t n = MatchPiece(pattern, text, pos);
      bpe->Encode(text.substr(pos, n), ids);
      pos += n;
    }
  }

  void EncodeSegments(std::string_view text, const std::vector<AddedTokenMatcher::Segment>& segs,
                      std::vector<int32_t>* ids, bool normalize,
                      const EncodeOptions& options) const {
    for (const AddedTokenMatcher::Segment& s : segs) {
      if (s.token >= 0) {
        ids->push_back(added[s.token].id);
      } else if (normalize) {
        EncodeNormalizable(text.substr(s.begin, s.end - s.begin), ids, options);
      } else {
        EncodeWords(text.substr(s.begin, s.end - s.begin), ids);
      }
    }
  }

  // Text between raw-matched added tokens: normalize, match normalized added tokens, split, BPE.
  void EncodeNormalizable(std::string_view text, std::vector<int32_t>* ids,
                          const EncodeOptions& options) const {
    if (text.empty()) return;
    std::string storage;
    if (nfc && !IsNfcQuick(text)) {
      storage = ToNfc(text);
      text = storage;
    }
    if (normalized_matcher.empty()) {
      EncodeWords(text, ids);
      return;
    }
    std::vector<AddedTokenMatcher::Segment> segs;
    normalized_matcher.Split(text, added, options.parse_special_tokens, &segs);
    EncodeSegments(text, segs, ids, /*normalize=*/false, options);
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

absl::StatusOr<Tokenizer> Tokenizer::FromFile(const std::string& tokenizer_json_path,
                                              const TokenizerLoadOptions& options) {
  QWEN_ASSIGN_OR_RETURN(std::string json, ReadFile(tokenizer_json_path));
  std::string config;
  if (!options.ignore_tokenizer_config) {
    std::string config_path = options.tokenizer_config_path;
    bool required = !config_path.empty();
    if (!required) {
      const size_t slash = tokenizer_json_path.rfind('/');
      const size_t dir_length = slash == std::string::npos ? 0 : slash + 1;
      config_path = absl::StrCat(absl::string_view(tokenizer_json_path.data(), dir_length),
                                 "tokenizer_config.json");
    }
    if (required || FileExists(config_path)) {
      QWEN_ASSIGN_OR_RETURN(config, ReadFile(config_path));
      if (config.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(config_path, ": the file is empty"));
      }
    }
  }
  absl::StatusOr<Tokenizer> tokenizer = FromJson(json, config);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat(tokenizer_json_path, ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

absl::StatusOr<Tokenizer> Tokenizer::FromJson(std::string_view tokenizer_json,
                                              std::string_view tokenizer_config_json) {
  QWEN_ASSIGN_OR_RETURN(TokenizerSpec spec,
                        ParseTokenizerSpec(tokenizer_json, tokenizer_config_json));
  return Build(std::move(spec));
}

absl::StatusOr<Tokenizer> Tokenizer::Build(TokenizerSpec spec) {
  auto impl = std::make_unique<Impl>();
  impl->nfc = spec.nfc;
  impl->pattern = spec.pattern;
  QWEN_ASSIGN_OR_RETURN(impl->bpe, BpeModel::Create(std::move(spec.vocab), spec.merges,
                                                    {.ignore_merges = spec.ignore_merges}));
  int32_t id_limit = impl->bpe->id_limit();
  for (const auto& [spelling, id] : spec.foreign_vocab) id_limit = std::max(id_limit, id + 1);
  for (const AddedToken& t : spec.added_tokens) id_limit = std::max(id_limit, t.id + 1);
  impl->decode.resize(id_limit);
  auto set_decode = [&](int32_t id, std::string_view bytes, bool special) {
    Impl::DecodeEntry& e = impl->decode[id];
    e.offset = static_cast<uint32_t>(impl->decode_storage.size());
    e.length = static_cast<int32_t>(bytes.size());
    e.special = special;
    impl->decode_storage.append(bytes);
  };
  for (int32_t id = 0; id < impl->bpe->id_limit(); ++id) {
    if (std::optional<std::string_view> bytes = impl->bpe->TokenBytes(id))
      set_decode(id, *bytes, false);
  }
  for (auto& [spelling, id] : spec.foreign_vocab) {
    if (impl->decode[id].length >= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer.json: vocabulary id ", id, " is used twice"));
    }
    set_decode(id, spelling, false);  // HF's ByteLevel decoder keeps such tokens' UTF-8
    impl->foreign_by_spelling.emplace(spelling, id);
    impl->foreign_by_id.emplace(id, std::move(spelling));
  }
  std::string bytes;
  impl->added = std::move(spec.added_tokens);
  for (size_t i = 0; i < impl->added.size(); ++i) {
    const AddedToken& t = impl->added[i];
    // Like any token, an added token decodes through ByteLevel: its bytes when every code point
    // is in the byte-level alphabet, else its UTF-8 as is.
    const bool byte_level = ByteLevelToBytes(t.content, &bytes);
    set_decode(t.id, byte_level ? std::string_view(bytes) : std::string_view(t.content), t.special);
    impl->added_by_content.emplace(t.content, t.id);
    impl->added_by_id.emplace(t.id, i);
    if (t.normalized) {
      impl->normalized_matcher.Add(impl->nfc ? ToNfc(t.content) : t.content, i);
    } else {
      impl->raw_matcher.Add(t.content, i);
    }
  }
  impl->raw_matcher.Finalize();
  impl->normalized_matcher.Finalize();
  return Tokenizer(std::move(impl));
}

absl::StatusOr<std::vector<int32_t>> Tokenizer::Encode(std::string_view text,
                                                       const EncodeOptions& options) const {
  if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("text is not valid UTF-8 (ill-formed sequence at byte ", bad, ")"));
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (impl_->raw_matcher.empty()) {
    impl_->EncodeNormalizable(text, &ids, options);
  } else {
    std::vector<AddedTokenMatcher::Segment> segs;
    impl_->raw_matcher.Split(text, impl_->added, options.parse_special_tokens, &segs);
    impl_->EncodeSegments(text, segs, &ids, /*normalize=*/true, options);
  }
  return ids;
}

absl::StatusOr<std::string> Tokenizer::Decode(std::span<const int32_t> ids,
                                              bool skip_special_tokens) const {
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (int32_t id : ids) {
    if (id < 0 || id >= id_limit() || impl_->decode[id].length < 0) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", id, " is not in the vocabulary"));
    }
    const Impl::DecodeEntry& e = impl_->decode[id];
    if (skip_special_tokens && e.special) continue;
    bytes.append(impl_->decode_storage, e.offset, e.length);
  }
  if (IsValidUtf8(bytes)) return bytes;
  std::string text;
  text.reserve(bytes.size() + 8);
  AppendUtf8Lossy(bytes, /*final=*/true, &text);
  return text;
}

std::optional<std::string_view> Tokenizer::DecodedBytes(int32_t id) const {
  if (id < 0 || id >= id_limit() || impl_->decode[id].length < 0) return std::nullopt;
  const Impl::DecodeEntry& e = impl_->decode[id];
  return std::string_view(impl_->decode_storage).substr(e.offset, e.length);
}

bool Tokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < id_limit() && impl_->decode[id].special;
}

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  const absl::string_view key(token.data(), token.size());  // Debian Abseil's own string_view
  if (auto it = impl_->added_by_content.find(key); it != impl_->added_by_content.end()) {
    return it->second;
  }
  std::string bytes;
  if (IsValidUtf8(token) && ByteLevelToBytes(token, &bytes)) {
    if (std::optional<int32_t> id = impl_->bpe->Find(bytes)) return id;
  }
  if (auto it = impl_->foreign_by_spelling.find(key); it != impl_->foreign_by_spelling.end()) {
    return it->second;
  }
  return std::nullopt;
}

std::optional<std::string> Tokenizer::IdToToken(int32_t id) const {
  if (auto it = impl_->added_by_id.find(id); it != impl_->added_by_id.end()) {
    return impl_->added[it->second].content;
  }
  if (auto it = impl_->foreign_by_id.find(id); it != impl_->foreign_by_id.end()) return it->second;
  if (std::optional<std::string_view> bytes = impl_->bpe->TokenBytes(id)) {
    return BytesToByteLevel(*bytes);
  }
  return std::nullopt;
}

int32_t Tokenizer::id_limit() const { return static_cast<int32_t>(impl_->decode.size()); }
size_t Tokenizer::merge_count() const { return impl_->bpe->merge_count(); }
const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }

}  // namespace qwen::gateway

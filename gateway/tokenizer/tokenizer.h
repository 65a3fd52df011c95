// Qwen3.5 tokenizer: a byte-level BPE tokenizer loaded from a Hugging Face tokenizer.json, with
// the results of transformers' `Qwen3_5Tokenizer` (shared/spec/TOKENIZER_AND_TEMPLATE.md §1):
//
//   encode: added tokens are matched in the raw text first (leftmost, then longest; tokens with
//           "normalized": true are matched after normalization), the text between them is NFC
//           normalized, split by the pre-tokenizer regex, mapped to bytes and BPE-merged by rank.
//           No BOS/EOS is added.
//   decode: the bytes of all tokens are concatenated and turned into text with U+FFFD for
//           ill-formed UTF-8 (maximal subparts), like `tokenizers` `decode`; skipping special
//           tokens drops only added tokens marked "special": true (<think>, <tool_call>, ... stay).
//
// Supported tokenizer.json: model BPE (no dropout / unk / byte fallback / subword affixes;
// ignore_merges honoured), normalizer NFC or null, pre-tokenizer Sequence[Split(Qwen3.5 or
// Qwen2 regex, Isolated), ByteLevel(add_prefix_space false, use_regex false)], decoder ByteLevel.
// Anything else fails to load with Unimplemented rather than tokenizing differently.
// Added-token ids must be the ones Hugging Face assigns (it ignores declared ids): a token whose
// content is a vocabulary token gets that id, any other the next id after the vocabulary and the
// earlier added tokens; tokenizer_config.json-only tokens follow in id order. A file declaring
// other ids fails to load (InvalidArgument) instead of silently disagreeing with HF.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace qwen::gateway {

struct TokenizerSpec;  // internal, tokenizer_spec.h

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;      // dropped by Decode(..., skip_special_tokens = true)
  bool normalized = false;   // matched in the normalized text instead of the raw text
  bool lstrip = false;       // the match also takes the white space before it
  bool rstrip = false;       // the match also takes the white space after it
  bool single_word = false;  // only matched when not adjacent to a word character
};

struct TokenizerLoadOptions {
  // tokenizer_config.json whose "added_tokens_decoder" may define tokens that tokenizer.json
  // lacks (Qwen3.5's 248070..248076). Empty: use the tokenizer_config.json next to the
  // tokenizer.json when that file exists.
  std::string tokenizer_config_path;
  // Do not look for tokenizer_config.json at all.
  bool ignore_tokenizer_config = false;
};

struct EncodeOptions {
  // false behaves like HF `split_special_tokens=True`: added tokens marked special in the text
  // are tokenized as ordinary text; non-special added tokens (<think>, ...) are still matched.
  bool parse_special_tokens = true;
};

class Tokenizer {
 public:
  // Loads tokenizer.json (and tokenizer_config.json per `options`). Errors: NotFound for a
  // missing file, InvalidArgument for malformed content (the message names the JSON field),
  // Unimplemented for a pipeline this class does not reproduce.
  static absl::StatusOr<Tokenizer> FromFile(const std::string& tokenizer_json_path,
                                            const TokenizerLoadOptions& options = {});
  // Same from file contents; `tokenizer_config_json` may be empty (no config).
  static absl::StatusOr<Tokenizer> FromJson(std::string_view tokenizer_json,
                                            std::string_view tokenizer_config_json = {});

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids of `text`. InvalidArgument (with the byte offset) when `text` is not valid UTF-8.
  // Thread-safe.
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              const EncodeOptions& options = {}) const;

  // Text of `ids` (see the file comment). InvalidArgument naming the first id that is not a
  // token. Thread-safe.
  absl::StatusOr<std::string> Decode(std::span<const int32_t> ids,
                                     bool skip_special_tokens = false) const;

  // The bytes that token `id` contributes to decoded text (not necessarily valid UTF-8 alone),
  // or nullopt when `id` is not a token. The view lives as long as the tokenizer.
  std::optional<std::string_view> DecodedBytes(int32_t id) const;
  // True for added tokens marked "special" (the ones skip_special_tokens drops).
  bool IsSpecial(int32_t id) const;
  // Id of a token by its tokenizer.json spelling (byte-level alphabet for BPE tokens, literal
  // content for added tokens).
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // tokenizer.json spelling of token `id`, or nullopt when `id` is not a token.
  std::optional<std::string> IdToToken(int32_t id) const;

  // One past the largest token id (248077 for Qwen3.5; the model's embedding has 248320 rows).
  int32_t id_limit() const;
  size_t merge_count() const;
  const std::vector<AddedToken>& added_tokens() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  static absl::StatusOr<Tokenizer> Build(TokenizerSpec spec);

  std::unique_ptr<Impl> impl_;
};

}  // namespace qwen::gateway

// Internal: what the tokenizer.json loader extracts, before the lookup structures are built.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/tokenizer/pretokenizer.h"
#include "gateway/tokenizer/tokenizer.h"

namespace qwen::gateway {

struct TokenizerSpec {
  // Vocabulary tokens as raw bytes (converted from the byte-level alphabet).
  std::vector<std::pair<std::string, int32_t>> vocab;
  // Vocabulary tokens spelled with code points outside the byte-level alphabet: BPE can never
  // produce them, but they decode (to their UTF-8) like HF's ByteLevel decoder does.
  std::vector<std::pair<std::string, int32_t>> foreign_vocab;
  // Merges as raw bytes, in rank order. Merges that mention foreign tokens can never apply and
  // are dropped.
  std::vector<std::pair<std::string, std::string>> merges;
  bool ignore_merges = false;
  bool nfc = false;
  PretokenizerPattern pattern = PretokenizerPattern::kQwen35;
  // In id order of assignment; ids checked against Hugging Face's assignment rule.
  std::vector<AddedToken> added_tokens;
};

// Parses tokenizer.json (and optionally tokenizer_config.json; empty = none) into a spec.
// Error messages start with the file name and name the offending field.
absl::StatusOr<TokenizerSpec> ParseTokenizerSpec(std::string_view tokenizer_json,
                                                 std::string_view tokenizer_config_json);

}  // namespace qwen::gateway

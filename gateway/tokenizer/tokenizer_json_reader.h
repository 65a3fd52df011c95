// Internal: one-pass reader for tokenizer.json. The two big tables (model.vocab, ~248k entries,
// and model.merges, ~247k pairs) are streamed into vectors instead of being built as a JSON DOM,
// which would cost a std::map node per token and a small array per merge (most of the load time);
// everything else becomes an ordinary nlohmann::json DOM.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace qwen::gateway {

struct TokenizerJsonDocument {
  // The whole document, except that a streamed model.vocab is left as {} and a streamed
  // model.merges as [] (so their JSON types can still be checked).
  nlohmann::json root;
  // model.vocab entries in file order (only when it is an object).
  std::vector<std::pair<std::string, int32_t>> vocab;
  // model.merges in file order (only when it is an array): legacy "a b" strings as {text, ""}
  // with legacy = true, pairs ["a", "b"] as {a, b}.
  struct Merge {
    std::string first;
    std::string second;
    bool legacy = false;
  };
  std::vector<Merge> merges;
};

// Parses `text`. InvalidArgument ("tokenizer.json: ...") for invalid JSON or, inside the two
// streamed tables, for an entry of the wrong shape (naming the key or index).
absl::StatusOr<TokenizerJsonDocument> ReadTokenizerJson(std::string_view text);

}  // namespace qwen::gateway

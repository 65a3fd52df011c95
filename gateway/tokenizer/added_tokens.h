// Finding added tokens in text the way Hugging Face `AddedVocabulary` does (internal).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/tokenizer/tokenizer.h"

namespace qwen::gateway {

class AddedTokenMatcher {
 public:
  // A stretch of the text: either an added token (`token` = index into the AddedToken list) or
  // plain text (`token` = -1), as byte offsets [begin, end).
  struct Segment {
    size_t begin;
    size_t end;
    int token;
  };

  // Registers `pattern` (non-empty) for the added token at `token_index`. Call Finalize() after
  // the last Add().
  void Add(std::string pattern, size_t token_index);
  void Finalize();
  bool empty() const { return patterns_.empty(); }

  // Splits `text` into segments, in order, covering it without gaps (HF `find_matches`):
  // non-overlapping leftmost-longest matches scanned left to right; a match is dropped (its text
  // stays plain) when its token is special and `parse_special` is false, or when it is
  // single_word and touches a word character (letter, number or '_'); lstrip / rstrip widen a
  // match over adjacent Unicode white space (never over text an earlier token took).
  void Split(std::string_view text, const std::vector<AddedToken>& tokens, bool parse_special,
             std::vector<Segment>* segments) const;

 private:
  struct Match {
    size_t begin;
    size_t end;
    size_t token_index;
  };
  std::optional<Match> Find(std::string_view text, size_t from) const;

  struct Pattern {
    std::string text;
    size_t token_index;
  };
  std::vector<Pattern> patterns_;
  // Indices into patterns_ by first byte, longest first (so the first hit is the longest).
  std::array<std::vector<size_t>, 256> by_first_byte_;
  std::string first_bytes_;  // distinct first bytes, for a memchr scan when there is only one
};

}  // namespace qwen::gateway

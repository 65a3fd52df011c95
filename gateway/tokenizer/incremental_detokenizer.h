// Streaming detokenization: token ids in, text deltas out.
//
// Guarantees, for any way of splitting a token sequence into Add() calls:
//  * Every delta is valid UTF-8 and never splits a code point. Bytes of a character that is
//    still incomplete (e.g. 🚀 arriving as 3 tokens) are held back until it completes.
//  * Without stop strings, the concatenation of all deltas including Finish()'s equals
//    Tokenizer::Decode(all ids, skip_special_tokens) exactly, U+FFFD replacements included: an
//    ill-formed byte sequence is replaced as soon as it is known to be ill-formed, and an
//    incomplete sequence left at the end is replaced (by one U+FFFD) only by Finish().
//  * With stop strings, the output is that same text truncated just before the first stop-string
//    occurrence, where "first" means the occurrence that ends earliest in the text (ties: the one
//    that starts earliest, i.e. the longest; then the earliest in the list). The stop string
//    itself is not emitted. Until a stop string completes, the longest tail of the text that is a
//    proper prefix of some stop string is held back (a stop string split across tokens is never
//    partly emitted). The delta that completes a stop string has stopped = true and names it;
//    later calls return empty deltas.
//  * Special tokens are dropped when skip_special_tokens is set, as in Tokenizer::Decode
//    (so a character may even span a skipped token, as in HF).
//  * No priming with prompt tokens is needed: byte-level decoding has no context-dependent
//    clean-up (Qwen sets clean_up_tokenization_spaces = false), so the text of the generated ids
//    alone is exact.
// Not thread-safe (one detokenizer per stream); the Tokenizer may be shared.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/tokenizer/tokenizer.h"

namespace qwen::gateway {

class IncrementalDetokenizer {
 public:
  struct Options {
    bool skip_special_tokens = false;
    // Non-empty, valid UTF-8 strings (vLLM/OpenAI `stop`). Matched in the decoded text.
    std::vector<std::string> stop_strings;
  };

  struct Delta {
    std::string text;      // new text, valid UTF-8 (may be empty)
    bool stopped = false;  // a stop string has matched (now or earlier)
    int stop_index = -1;   // index in Options::stop_strings of the matched stop string, or -1
  };

  // `tokenizer` must outlive the detokenizer. InvalidArgument for an empty or non-UTF-8 stop
  // string.
  static absl::StatusOr<IncrementalDetokenizer> Create(const Tokenizer& tokenizer, Options options);

  // Feeds the next generated ids (any number, including none). InvalidArgument (naming the id)
  // when one of them is not a token; then none of `ids` is consumed. After a stop, or after
  // Finish(), ids are ignored and the delta is empty.
  absl::StatusOr<Delta> Add(std::span<const int32_t> ids);
  absl::StatusOr<Delta> Add(int32_t id) { return Add(std::span<const int32_t>(&id, 1)); }

  // Ends the stream: flushes held-back text (an incomplete trailing character becomes U+FFFD and
  // a held partial stop-string match is released, unless it now completes a stop string).
  // Further calls return empty deltas.
  Delta Finish();

  bool stopped() const { return stop_index_ >= 0; }
  // Text emitted so far (the concatenation of all delta texts).
  const std::string& emitted() const { return emitted_; }

 private:
  IncrementalDetokenizer(const Tokenizer& tokenizer, Options options)
      : tokenizer_(&tokenizer), options_(std::move(options)) {}

  // Moves complete text from pending_bytes_ into held_text_ (flushing incomplete bytes when
  // `final`), applies stop strings, and emits what may be emitted.
  Delta Drain(bool final);

  const Tokenizer* tokenizer_;
  Options options_;
  std::string pending_bytes_;  // bytes not yet converted to text (at most an incomplete char)
  std::string held_text_;      // text not yet emitted (possible start of a stop string)
  std::string emitted_;
  int stop_index_ = -1;
  bool finished_ = false;
};

}  // namespace qwen::gateway

// Streaming splitter of a Qwen3.5 generation into reasoning and content.
//
// Where the tags come from (chat template §2.5): the generation prompt ends in `<think>\n` when
// thinking is enabled, so the model's output starts *inside* the reasoning and looks like
// `REASONING\n</think>\n\nCONTENT`; with thinking disabled the prompt already ends in
// `<think>\n\n</think>\n\n` and the output is content only. `<think>`/`</think>` are not special
// tokens, so they survive detokenization as literal text.
//
// Rules, applied to the concatenated output (so the split never depends on delta boundaries):
//  1. Leading `<think>`: if the output, after optional ASCII whitespace, starts with `<think>`
//     (older Qwen3 templates let the model open the block itself), that whitespace and the tag
//     are dropped and the output continues as reasoning, whether or not thinking was enabled
//     (leaking raw reasoning tags into content would be worse than honoring them). A `<think>`
//     anywhere else is ordinary text.
//  2. Thinking enabled, no leading `<think>`: the output starts in reasoning.
//     Thinking disabled, no leading `<think>`: everything is content, byte for byte.
//  3. The first `</think>` ends the reasoning; everything after it is content (a second
//     `</think>` is content text). Calls written inside the reasoning stay reasoning text: only
//     content is ever handed to the tool-call parser.
//  4. If the stream ends inside the reasoning (e.g. max_tokens), all of it is reasoning and the
//     content is empty, like vLLM's qwen3 parser (a partial `</thi` at the very end is reasoning).
//  5. Whitespace: exactly the newline runs the template itself writes or strips are removed:
//     '\n' characters at the start of the reasoning (the `<think>\n` convention), '\n'
//     characters at the end of the reasoning (the `\n</think>` convention), and '\n'
//     characters at the start of the content after `</think>` (the `</think>\n\n` convention).
//     Spaces and tabs are kept. These are the same strips the template applies when it re-reads
//     an assistant turn (`rstrip('\n')`, `lstrip('\n')`, §2.4), so a parsed turn round-trips
//     through the template unchanged. vLLM's qwen3 parser partitions on `</think>` without
//     stripping, which leaves "\n\n" at the head of every content; we do not reproduce that.
//     Content produced under rule 2 (thinking disabled) is not stripped at all.
//
// Streaming: text is released as soon as it is unambiguous. Held back are only a trailing
// proper prefix of `</think>` (or of `<think>` at the very start), a trailing run of '\n'
// whose fate depends on what follows, and an incomplete trailing UTF-8 character.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "gateway/output/parsed_delta.h"

namespace qwen::gateway {

class ReasoningParser {
 public:
  // `thinking_enabled`: whether the generation prompt opened a thinking block (template kwarg
  // enable_thinking was not exactly `false` for the large models).
  explicit ReasoningParser(bool thinking_enabled);

  // Consumes the next text delta; returns the reasoning/content that became final. Never fails.
  // After Finish() it ignores its input and returns an empty delta.
  ParsedDelta Push(std::string_view delta);

  // Ends the stream and flushes everything still held back. A second call returns empty.
  ParsedDelta Finish();

  // Whether the `</think>` that ends the reasoning has been seen (true from the start when the
  // output is content-only).
  bool reasoning_ended() const {
    return state_ == State::kContentStart || state_ == State::kContent;
  }

 private:
  enum class State { kLeading, kReasoningStart, kReasoning, kContentStart, kContent };

  // Advances as far as the buffered text allows; `finished` turns every wait into a decision.
  void Drain(bool finished, ParsedDelta& out);
  void Compact();

  bool thinking_enabled_;
  State state_ = State::kLeading;
  bool finished_ = false;
  std::string buffer_;  // unconsumed text starts at pos_
  size_t pos_ = 0;
  // [pos_, known_newline_end_) was examined and is '\n' (kReasoning) or whitespace (kLeading).
  size_t known_newline_end_ = 0;
};

}  // namespace qwen::gateway

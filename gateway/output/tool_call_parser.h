// Streaming parser for the Qwen XML ("Qwen3-Coder") tool-call format that Qwen3.5 emits
// (chat template §2.6):
//
//   <tool_call>
//   <function=NAME>
//   <parameter=P>
//   VALUE
//   </parameter>
//   ...
//   </function>
//   </tool_call>
//
// Input: the *content* part of a generation (reasoning already split off), as text deltas of
// arbitrary boundaries. Output: content deltas and complete calls.
//
// Grammar of a well-formed call (WS = ASCII whitespace, any amount):
//   `<tool_call>` WS `<function=NAME>` ( WS `<parameter=PNAME>` VALUE `</parameter>` )* WS
//   `</function>` WS `</tool_call>`
// where NAME and PNAME are 1..256 bytes without whitespace or any of `<>{}"'`, and NAME is one of
// the declared tools (ToolSchemas::HasFunction). The `</tool_call>` may be missing only at the
// very end of the stream (the call is complete once `</function>` is seen).
//
// Parameter values:
//  - VALUE ends at the first `</parameter>` that is followed (after WS) by `<parameter=`,
//    `</function>` or `</tool_call>`; a `</parameter>` followed by anything else is part of the
//    value (code that mentions the tag).
//  - A line starting with `<parameter=PNAME>` inside a value is either
//      * an implicit end of the value (recovery for a missing `</parameter>`, as vLLM does) if
//        PNAME is declared in the function's schema, is not the current parameter and was not
//        given yet; or
//      * a literal nested tag (the value is e.g. a file that itself contains this format): the
//        next `</parameter>` is then literal too, whatever follows it (vLLM's depth counting).
//  - One leading '\n' and one trailing '\n' (the format's own line breaks) are removed; all other
//    text is kept verbatim. The text is then typed by ConvertParameterValue (tool_schema.h).
//  - A repeated PNAME overwrites the earlier value (keeping its position), like vLLM's dict.
//
// Streaming and emission:
//  - A call is emitted whole, with its complete arguments JSON, in the delta in which its
//    `</tool_call>` arrives (or at Finish() for the missing-`</tool_call>` case). Argument
//    fragments are deliberately not streamed: a value's type is only known once it is complete
//    ("12" may continue as "12.5", an object is not JSON until closed), and OpenAI clients
//    accept one delta carrying the full arguments.
//  - Text that is or may still become part of a call is never emitted as content: a trailing
//    proper prefix of `<tool_call>` is held back, and so is everything after a `<tool_call>`
//    until the block is accepted or rejected.
//  - Whitespace directly before a `<tool_call>` that becomes a call (the template writes
//    "content\n\n<tool_call>") and whitespace directly after an accepted call (the "\n" between
//    calls) is dropped; trailing whitespace of content is therefore held back until a
//    non-whitespace byte or the end of the stream decides it.
//
// Malformed output never fails and never loses text. A block is rejected as soon as it departs
// from the grammar (unknown function name, invalid name, unexpected text between tags, a
// missing `</function>`), and at Finish() if it is still incomplete (unclosed tags, a value with
// no `</parameter>`). A rejected block yields no call: the `<tool_call>` tag (with the
// whitespace held before it) is emitted as content, and scanning restarts as content right after
// that tag, so the rest of the block comes out as content verbatim and a later well-formed call
// is still found. Truncated calls are thus returned as text, not executed with missing arguments.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/random/random.h"
#include "gateway/output/parsed_delta.h"
#include "gateway/output/tool_schema.h"
#include "nlohmann/json.hpp"

namespace qwen::gateway {

class ToolCallParser {
 public:
  // `schemas`: the declared tools. `id_generator`: call ids; null -> random "call_<24 hex>".
  explicit ToolCallParser(ToolSchemas schemas, CallIdGenerator id_generator = nullptr);

  // Consumes the next content delta; returns content that became final and calls that completed
  // (`reasoning` is always empty). After Finish() it ignores its input and returns empty.
  ParsedDelta Push(std::string_view delta);

  // Ends the stream, resolving any open block per the rules above. A second call returns empty.
  ParsedDelta Finish();

  // Number of well-formed calls emitted so far.
  int num_calls() const { return num_calls_; }

 private:
  enum class Mode {
    kContent,         // outside any block
    kAfterCall,       // dropping whitespace after an accepted call
    kExpectFunction,  // after `<tool_call>`
    kFunctionName,    // after `<function=`
    kBody,            // between parameters
    kParamName,       // after `<parameter=`
    kParamValue,      // inside a value
    kAfterFunction,   // after `</function>`
  };
  enum class Step { kProgress, kNeedMore };
  enum class NameResult { kOk, kNeedMore, kInvalid };

  void Drain(bool finished, ParsedDelta& out);
  Step StepOnce(bool finished, ParsedDelta& out);
  // Resolves a wait at the end of the stream; returns whether scanning must continue.
  bool ResolveAtEnd(ParsedDelta& out);

  Step ScanContent(bool finished, ParsedDelta& out);
  Step ScanParamValue(bool finished);
  NameResult ReadName(size_t begin, std::string& name, size_t& end) const;
  size_t SkipSpace(size_t p) const;
  void FinishParameter(size_t value_end);
  void EmitCall(ParsedDelta& out);
  void Reject(ParsedDelta& out);
  std::string NextCallId();
  void Compact();

  ToolSchemas schemas_;
  CallIdGenerator id_generator_;
  absl::BitGen bitgen_;  // per-parser source for default ids; no shared state
  bool finished_ = false;
  int num_calls_ = 0;

  std::string buffer_;  // unconsumed text starts at pos_; an open block starts at block_ws_start_
  size_t pos_ = 0;
  Mode mode_ = Mode::kContent;
  size_t known_space_end_ = 0;  // content mode: [pos_, known_space_end_) is examined whitespace

  // The open block (valid while mode_ is one of the block modes).
  size_t block_ws_start_ = 0;  // whitespace held before `<tool_call>`
  size_t block_start_ = 0;     // the `<` of `<tool_call>`
  std::string function_name_;
  std::string param_name_;
  size_t value_start_ = 0;
  size_t value_scan_ = 0;       // candidates for the end of the value are searched from here
  size_t close_from_ = 0;       // no `</parameter>` starts in [value_scan_, close_from_)
  size_t line_open_from_ = 0;   // no "\n<parameter=" starts in [value_scan_, line_open_from_)
  size_t close_space_end_ = 0;  // whitespace after the pending `</parameter>` ends here or later
  int value_depth_ = 0;         // literal nested `<parameter=` tags open inside the value
  nlohmann::ordered_json arguments_;
};

}  // namespace qwen::gateway

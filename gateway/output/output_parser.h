// Per-request parser of a streamed Qwen3.5 generation: splits reasoning from content
// (ReasoningParser) and extracts Qwen XML tool calls from the content (ToolCallParser).
//
//   text deltas -> ReasoningParser -> reasoning
//                                  -> content -> ToolCallParser -> content, tool_calls
//
// Only content reaches the tool-call parser: a call the model writes inside its reasoning is
// reasoning text, never a call. (vLLM's qwen3 reasoning parser instead ends the reasoning at a
// `<tool_call>` followed by `<function=` even without `</think>`; we follow the template, which
// only ever renders calls after `</think>`.)
//
// Usage: create one per generated choice, Push() every detokenized delta in order, then call
// Finish() once the stream ends (any reason), then FinishReason(). See reasoning_parser.h and
// tool_call_parser.h for the exact rules; parsed_delta.h for the delta contract.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gateway/output/parsed_delta.h"
#include "gateway/output/reasoning_parser.h"
#include "gateway/output/tool_call_parser.h"
#include "nlohmann/json.hpp"

namespace qwen::gateway {

struct OutputParserOptions {
  // Whether the generation prompt opened a thinking block (see ReasoningParser).
  bool thinking_enabled = true;
  // The request's OpenAI `tools` array. Unset, null or an empty array: no tool parsing, all
  // content is content (the template renders no tool instructions then either).
  std::optional<nlohmann::json> tools;
  // Call ids; null -> random "call_<24 hex>".
  CallIdGenerator call_id_generator;
};

class OutputParser {
 public:
  // InvalidArgument if `options.tools` is set but not a valid tools array (ToolSchemas::Create).
  static absl::StatusOr<OutputParser> Create(OutputParserOptions options);

  // Consumes the next detokenized delta (UTF-8; boundaries arbitrary, even inside a character).
  // Never fails. After Finish() it ignores its input and returns an empty delta.
  ParsedDelta Push(std::string_view delta);

  // Ends the stream and flushes everything held back (incomplete calls become content). A
  // second call returns an empty delta.
  ParsedDelta Finish();

  // Number of well-formed tool calls emitted so far.
  int num_tool_calls() const { return tool_parser_ ? tool_parser_->num_calls() : 0; }

  // The OpenAI finish_reason for the engine's reason ("stop", "length", ...): "tool_calls" when
  // at least one well-formed call was parsed and the engine stopped normally ("stop");
  // otherwise `engine_reason` unchanged (a "length" stop stays "length": the model was cut off,
  // possibly before further calls). Call after Finish().
  std::string FinishReason(std::string_view engine_reason) const;

 private:
  OutputParser(bool thinking_enabled, std::optional<ToolCallParser> tool_parser);

  ReasoningParser reasoning_parser_;
  std::optional<ToolCallParser> tool_parser_;
  bool finished_ = false;
};

}  // namespace qwen::gateway

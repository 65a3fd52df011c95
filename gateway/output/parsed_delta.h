// Result types shared by the streaming output parsers (reasoning splitter, Qwen XML tool-call
// parser and the combined per-request OutputParser).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace qwen::gateway {

// One complete function call extracted from the model output.
struct ToolCall {
  // 0-based position of the call within the response (the OpenAI streaming `tool_calls[].index`).
  int index = 0;
  // Call id, unique within the response; "call_" + 24 lowercase hex digits by default.
  std::string id;
  // Function name exactly as the model wrote it in `<function=NAME>`.
  std::string name;
  // A JSON object (compact, keys in the order the model wrote the parameters), never empty.
  std::string arguments;

  friend bool operator==(const ToolCall&, const ToolCall&) = default;
};

// What one Push()/Finish() call of a parser produced. Every string is a *delta*: the response's
// reasoning (content) is the concatenation of all `reasoning` (`content`) fields in order, and the
// response's calls are the concatenation of all `tool_calls`. If the concatenated input is valid
// UTF-8, every emitted string is valid UTF-8 (a character split across input deltas is held back
// until it is complete). Within one ParsedDelta the relative order of `content` and `tool_calls`
// is not represented; the template tells the model to put no text after its calls.
struct ParsedDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> tool_calls;

  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
  // Appends `other`'s deltas after this one's.
  void Append(ParsedDelta other);
};

// Produces the id of the call with the given response-level index. Must return distinct ids for
// distinct indices. A null generator means "random ids" (see ToolCall::id).
using CallIdGenerator = std::function<std::string(int index)>;

}  // namespace qwen::gateway

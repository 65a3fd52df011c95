// Chat-template front end: renders a model's Hugging Face chat template for an OpenAI-style
// request exactly as transformers' tokenizer.apply_chat_template(..., tokenize=False) does.
//
// The request is a JSON object:
//   {"messages": [...], "tools": [...]?, "add_generation_prompt": bool?, "enable_thinking": bool?,
//    "add_vision_id": bool?, ...any other template kwargs...}
// Every top-level key becomes a template variable. Like transformers, `tools` and `documents`
// default to None and `add_generation_prompt` to false. Messages are passed through unchanged,
// except that assistant tool calls whose `function.arguments` (or `arguments`) is a JSON string
// are parsed into objects first, as vLLM does: chat templates such as Qwen3.5's iterate
// `arguments|items`, which needs a mapping.
//
// Use nlohmann::ordered_json: key order reaches the output (tool schemas go through `tojson`,
// which keeps insertion order like Python's json.dumps).
//
// Supported Jinja: the statements if/elif/else, for (with else, `if` filters, loop.*, break,
// continue), set (also block form and namespace attributes), macro (defaults, varargs, kwargs,
// caller), call, filter, with, print, raw, comments and transformers' {% generation %}; the whole
// expression grammar with Python semantics; the filters, tests, str/dict/list methods and
// globals listed in builtins.h and its sources. Not supported: template inheritance and loading
// (extends, block, include, import, from), autoescape blocks, recursive loops, integers beyond 64
// bits, and Unicode case mapping outside Latin/Greek/Cyrillic.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gateway/chat_template/template.h"
#include "nlohmann/json.hpp"

namespace qwen::gateway {

class ChatTemplate {
 public:
  // Parses the template. Syntax errors are FailedPrecondition (a server-side configuration
  // problem) with "chat template line L, column C: ...".
  static absl::StatusOr<ChatTemplate> Create(std::string_view source);

  // Renders the prompt for `request`. Errors:
  //   * the template called raise_exception(msg): InvalidArgument whose message is exactly msg
  //     (IsChatTemplateException() is true), e.g. "No user query found in messages.";
  //   * a malformed request (no messages array, tool-call arguments that are not a JSON object
  //     or a JSON-object string): InvalidArgument naming the offending message index;
  //   * any other template runtime error: InvalidArgument "chat template line L, column C: ...".
  absl::StatusOr<std::string> Render(const nlohmann::ordered_json& request) const;

 private:
  explicit ChatTemplate(jinja::Template t) : template_(std::move(t)) {}
  jinja::Template template_;
};

// Parse + render in one call (parse once with ChatTemplate when rendering many requests).
absl::StatusOr<std::string> RenderChatTemplate(std::string_view template_source,
                                               const nlohmann::ordered_json& request);

// True when `status` came from the template's raise_exception().
bool IsChatTemplateException(const absl::Status& status);

// The request after the front end's normalisation (tool-call arguments parsed, defaults for
// tools/documents/add_generation_prompt filled in): the exact variables the template sees.
absl::StatusOr<nlohmann::ordered_json> PrepareChatTemplateContext(
    const nlohmann::ordered_json& request);

}  // namespace qwen::gateway

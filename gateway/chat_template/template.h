// Public API of the Jinja-subset interpreter: parse once, render many times.
//
// Renders templates byte for byte like Python jinja2 in the environment transformers uses for
// chat templates: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
// extensions=[loopcontrols]) with transformers' tojson filter and the raise_exception and
// strftime_now globals. chat_template.h lists the supported subset of Jinja.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace qwen::gateway::jinja {

class Dict;

// An immutable parsed template; copies share the parse tree and may render concurrently.
class Template {
 public:
  // Parses `source` (UTF-8). Syntax errors, unknown filters/tests and unsupported tags are
  // InvalidArgument "line L, column C: message" (jinja2's wording where it has one).
  static absl::StatusOr<Template> Parse(std::string_view source);

  // Renders with the keys of `context` (a JSON object; key order is kept, as Python dicts keep
  // it) as template variables. Errors:
  //   * raise_exception(msg) in the template: InvalidArgument whose message is exactly `msg`
  //     (IsRaisedException() is true for it);
  //   * any other runtime error (undefined attribute chains, type errors, ...): InvalidArgument
  //     "line L, column C: message".
  absl::StatusOr<std::string> Render(const nlohmann::ordered_json& context) const;
  // Same with an already converted context.
  absl::StatusOr<std::string> RenderDict(const Dict& context) const;

 private:
  struct Impl;
  explicit Template(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// True for the status a template's raise_exception(...) produced.
bool IsRaisedException(const absl::Status& status);

}  // namespace qwen::gateway::jinja

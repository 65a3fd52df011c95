// The built-in filters, tests, methods and globals of the transformers chat-template
// environment (jinja2 3.1 defaults, transformers' tojson override, raise_exception and
// strftime_now). All registries are immutable tables; nothing here keeps state between renders.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/chat_template/value.h"

namespace qwen::gateway::jinja {

// Whether a filter/test exists (the parser rejects unknown names like jinja2's compiler does).
bool IsKnownFilter(std::string_view name);
bool IsKnownTest(std::string_view name);

absl::StatusOr<Value> CallFilter(Interpreter& interp, std::string_view name, const Value& input,
                                 CallArgs& args);
absl::StatusOr<bool> CallTest(Interpreter& interp, std::string_view name, const Value& input,
                              CallArgs& args);

// The bound method `obj.name` for the str/dict/list methods the sandbox allows, or nullopt.
std::optional<Value> GetMethod(const Value& obj, const std::string& name);

// Global functions: range (sandbox-limited to 100000 items), dict, namespace, joiner,
// raise_exception and strftime_now. jinja2's lipsum and cycler are not provided.
Dict MakeGlobals();

// The status raise_exception(message) produces: InvalidArgument with exactly `message`, tagged
// so that IsRaisedException() can tell it from other template errors.
absl::Status RaisedException(std::string message);
bool IsRaisedException(const absl::Status& status);

// Binds call arguments to a Python-style signature. `params` are the parameter names in order;
// the first `required` have no default. Unprovided parameters are nullopt. Errors follow Python's
// TypeError wording ("upper() takes at most 0 arguments", "unexpected keyword argument ...").
absl::StatusOr<std::vector<std::optional<Value>>> BindArgs(
    std::string_view function, const CallArgs& args, const std::vector<std::string_view>& params,
    size_t required = 0);

}  // namespace qwen::gateway::jinja

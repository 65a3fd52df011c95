// The tools a request declared, as the Qwen XML tool-call parser needs them: which function
// names are callable, and how each parameter's raw text is typed.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace qwen::gateway {

// Converts one parameter's raw text (already stripped of the format's single leading and
// trailing newline) to a JSON value, given the parameter's JSON schema (`schema` null when the
// tool declares no such parameter). Follows vLLM's qwen3_coder `_convert_param_value`, with the
// differences marked [diff]:
//  - Type: `type` (a string, or the first non-"null" entry of a type array), else the first
//    non-"null" `type` of `anyOf`/`oneOf` entries. It is nullable when "null" appears there.
//    Type names are compared lower-cased and trimmed.
//  - Nullable and the trimmed text is null/None (any case) -> null.
//  - string/str/text/varchar/char/enum -> the text verbatim (so "42" stays "42").
//  - Any other declared type and text null/None -> null (the template renders Python None).
//  - int*/uint*/long*/short*/unsigned* -> base-10 integer (surrounding whitespace and a sign
//    allowed); otherwise the text verbatim as a string.
//  - num*/float* -> finite decimal/exponent number; an integral value within int64 becomes an
//    integer (vLLM: 5.0 -> 5); otherwise the text verbatim.
//  - boolean/bool/binary -> true/false (any case, e.g. the Python `True` the template renders);
//    [diff] anything else stays the text verbatim (vLLM silently turns it into false).
//  - object/array/arr/dict*/list* -> strict JSON; if that yields a string, that string is parsed
//    as JSON once more (double-encoded objects); [diff] if JSON fails the text stays verbatim
//    (vLLM also tries Python literal syntax via ast.literal_eval).
//  - No schema, no usable type, or an unknown type name -> strict JSON if the whole text parses
//    (`7`, `true`, `{"a":1}`, `"x"`), else the text verbatim. [diff] vLLM returns undeclared
//    parameters as strings and uses ast.literal_eval for unknown type names.
nlohmann::ordered_json ConvertParameterValue(const std::string& raw, const nlohmann::json* schema);

class ToolSchemas {
 public:
  // Builds from an OpenAI `tools` array. Each element is either {"type": "function",
  // "function": {"name": ..., "parameters": {...}}} or the bare {"name": ..., "parameters": ...};
  // `type` is not checked. InvalidArgument if `tools` is not an array, an element is not an
  // object, a name is missing/empty/not a string, or `parameters`/`properties` is present but not
  // an object. When a name repeats, the first definition wins (as the model saw it first).
  static absl::StatusOr<ToolSchemas> Create(const nlohmann::json& tools);

  // A set that accepts every function name and declares no parameters (all untyped). For
  // callers that parse calls without a tool list.
  static ToolSchemas AcceptAny();

  // Whether a call to `function` is well-formed with respect to the declared tools.
  bool HasFunction(std::string_view function) const;

  // Whether `function`'s schema declares a parameter named `param`.
  bool DeclaresParameter(std::string_view function, std::string_view param) const;

  // ConvertParameterValue with the schema of `function`.`param` (null when undeclared).
  nlohmann::ordered_json Convert(std::string_view function, std::string_view param,
                                 const std::string& raw) const;

 private:
  ToolSchemas() = default;
  const nlohmann::json* Properties(std::string_view function) const;

  bool accept_any_ = false;
  // Function name -> its `parameters.properties` object (empty object when none declared).
  std::map<std::string, nlohmann::json, std::less<>> properties_;
};

}  // namespace qwen::gateway

// Python json.dumps() over template values, as transformers' `tojson` filter calls it:
// json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys).
// Unlike jinja2's stock tojson this neither sorts keys nor HTML-escapes '<', '>', '&', '\''.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/chat_template/value.h"

namespace qwen::gateway::jinja {

struct JsonDumpOptions {
  bool ensure_ascii = false;
  // Indent string per level; nullopt means single-line output (Python indent=None).
  std::optional<std::string> indent;
  // Python's defaults: (", ", ": ") without indent, (",", ": ") with indent.
  std::optional<std::string> item_separator;
  std::optional<std::string> key_separator;
  bool sort_keys = false;
};

// TypeError-like InvalidArgument for values JSON cannot represent (Undefined, namespaces,
// callables, dict keys that are not str/int/float/bool/None).
absl::StatusOr<std::string> PyJsonDumps(const Value& value, const JsonDumpOptions& options);

}  // namespace qwen::gateway::jinja

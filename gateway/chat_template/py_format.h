// Python string formatting that jinja2's sandbox allows on strings: `"%s" % args` and
// `"{}".format(...)`. Covers the conversions and format specs chat templates use (s, r, d, i, f,
// e, g, x, o, c; fill/align/sign/zero/width/precision); anything else is an error, not a guess.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "gateway/chat_template/value.h"

namespace qwen::gateway::jinja {

// fmt % args: a tuple supplies positional arguments, a dict named "%(key)s" arguments.
absl::StatusOr<Value> PyPercentFormat(const std::string& fmt, const Value& args);
// fmt.format(*positional, **keyword).
absl::StatusOr<std::string> PyBraceFormat(const std::string& fmt, const CallArgs& args);

}  // namespace qwen::gateway::jinja

// Internal: the tables and helpers shared by the builtins' source files.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/chat_template/value.h"

namespace qwen::gateway::jinja::internal {

using FilterFn = absl::StatusOr<Value> (*)(Interpreter&, const Value&, CallArgs&);
using TestFn = absl::StatusOr<bool> (*)(Interpreter&, const Value&, CallArgs&);

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
};
struct TestEntry {
  std::string_view name;
  TestFn fn;
};

// Tables, one per source file.
const std::vector<FilterEntry>& TextFilters();      // filters_text.cc
const std::vector<FilterEntry>& SequenceFilters();  // filters_seq.cc
const std::vector<TestEntry>& Tests();              // tests.cc

// jinja2's soft_str: strings stay as they are (Markup included), everything else goes through
// str() (Undefined becomes '').
Value SoftStr(const Value& v);
// Keeps the Markup flag of `like` on a derived string.
Value SameKind(const Value& like, std::string text);
// An optional argument's value, or `fallback`.
Value ArgOr(const std::optional<Value>& arg, Value fallback);
// Python truthiness of an optional boolean argument.
bool FlagArg(const std::optional<Value>& arg, bool fallback);
// Integer argument (bool counts as int); InvalidArgument naming `what` otherwise.
absl::StatusOr<int64_t> IntArg(const Value& v, std::string_view what);
// jinja2's make_attrgetter: "a.b.0" walks getitem per part (digits become indices).
absl::StatusOr<Value> GetAttrPath(const Value& item, const Value& attribute);
// Lower-cases strings (jinja2's ignore_case postprocess); other values pass through.
Value IgnoreCase(const Value& v);

}  // namespace qwen::gateway::jinja::internal

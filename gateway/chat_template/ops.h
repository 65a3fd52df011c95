// Python operators and jinja2's sandboxed attribute/item access on template values.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "gateway/chat_template/ast.h"
#include "gateway/chat_template/value.h"

namespace qwen::gateway::jinja {

// Arithmetic with Python semantics (int/float promotion, floor division and modulo, str and list
// concatenation and repetition, Markup escaping on `+`). Undefined operands are errors.
absl::StatusOr<Value> BinaryOperation(ast::BinaryOp op, const Value& a, const Value& b);
// Unary minus (negate=true) or plus.
absl::StatusOr<Value> UnaryOperation(const Value& operand, bool negate);
// One link of a comparison chain (==, !=, <, <=, >, >=, in, not in).
absl::StatusOr<bool> CompareOperation(ast::CompareOp op, const Value& a, const Value& b);

// jinja2 SandboxedEnvironment.getattr: Python attribute (methods of str/dict/list, namespace and
// loop attributes) first, then item lookup; Undefined with jinja2's hint when neither exists.
// `obj` must not be Undefined (the caller reports that error).
Value GetAttribute(const Value& obj, const std::string& name);
// Python getattr() alone (jinja2's |attr filter): no fallback to item lookup.
Value GetPythonAttribute(const Value& obj, const std::string& name);
// jinja2 SandboxedEnvironment.getitem: item lookup first, then attribute for string keys.
absl::StatusOr<Value> GetItem(const Value& obj, const Value& key);
// obj[start:stop:step] on strings (by code point), lists and tuples; null-kind (Undefined
// without hint is not used) arguments are passed as None for omitted bounds.
absl::StatusOr<Value> SliceValue(const Value& obj, const Value& start, const Value& stop,
                                 const Value& step);
// markupsafe.escape(): & < > " ' as HTML entities.
std::string HtmlEscape(const std::string& text);

}  // namespace qwen::gateway::jinja

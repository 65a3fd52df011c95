// Jinja tests (`x is string`, ...), jinja2/tests.py semantics on Python objects.
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/chat_template/builtins.h"
#include "gateway/chat_template/builtins_internal.h"
#include "gateway/chat_template/ops.h"
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja::internal {
namespace {

using Result = absl::StatusOr<bool>;

absl::Status NoArgs(std::string_view name, const CallArgs& args) {
  return BindArgs(name, args, {}).status();
}

#define QWEN_SIMPLE_TEST(Fn, name, expr)                        \
  Result Fn(Interpreter&, const Value& v, CallArgs& args) {    \
    QWEN_RETURN_IF_ERROR(NoArgs(name, args));                  \
    return (expr);                                             \
  }

QWEN_SIMPLE_TEST(Defined, "defined", !v.is_undefined())
QWEN_SIMPLE_TEST(Undefined, "undefined", v.is_undefined())
QWEN_SIMPLE_TEST(None, "none", v.is_none())
QWEN_SIMPLE_TEST(Boolean, "boolean", v.is_bool())
QWEN_SIMPLE_TEST(False, "false", v.is_bool() && !v.bool_value())
QWEN_SIMPLE_TEST(True, "true", v.is_bool() && v.bool_value())
QWEN_SIMPLE_TEST(Integer, "integer", v.is_int())
QWEN_SIMPLE_TEST(Float, "float", v.is_float())
QWEN_SIMPLE_TEST(Number, "number", v.is_number())
QWEN_SIMPLE_TEST(String, "string", v.is_string())
QWEN_SIMPLE_TEST(Mapping, "mapping", v.is_dict())
// Python iter() succeeds: str, list, tuple, dict and (jinja2) Undefined.
QWEN_SIMPLE_TEST(Iterable, "iterable",
                 v.is_string() || v.is_list() || v.is_dict() || v.is_undefined())
// len() and __getitem__ exist: str, list, tuple, dict and Undefined.
QWEN_SIMPLE_TEST(Sequence, "sequence",
                 v.is_string() || v.is_list() || v.is_dict() || v.is_undefined())
// Undefined defines __call__ (it raises when called), so jinja2 reports it callable.
QWEN_SIMPLE_TEST(CallableTest, "callable", v.is_callable() || v.is_undefined())
QWEN_SIMPLE_TEST(Escaped, "escaped", v.is_safe())
QWEN_SIMPLE_TEST(Lower, "lower", PyIsLower(ToPyStr(v)))
QWEN_SIMPLE_TEST(Upper, "upper", PyIsUpper(ToPyStr(v)))

#undef QWEN_SIMPLE_TEST

absl::StatusOr<Value> OneArg(std::string_view name, const CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"other"}, 1));
  return *a[0];
}

Result Odd(Interpreter&, const Value& v, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(NoArgs("odd", args));
  QWEN_ASSIGN_OR_RETURN(Value r, BinaryOperation(ast::BinaryOp::kMod, v, Value::Int(2)));
  return PyEquals(r, Value::Int(1));
}

Result Even(Interpreter&, const Value& v, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(NoArgs("even", args));
  QWEN_ASSIGN_OR_RETURN(Value r, BinaryOperation(ast::BinaryOp::kMod, v, Value::Int(2)));
  return PyEquals(r, Value::Int(0));
}

Result DivisibleBy(Interpreter&, const Value& v, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("divisibleby", args, {"num"}, 1));
  QWEN_ASSIGN_OR_RETURN(Value r, BinaryOperation(ast::BinaryOp::kMod, v, *a[0]));
  return PyEquals(r, Value::Int(0));
}

Result Compare(const Value& v, const CallArgs& args, std::string_view name, ast::CompareOp op) {
  QWEN_ASSIGN_OR_RETURN(Value other, OneArg(name, args));
  return CompareOperation(op, v, other);
}

Result Eq(Interpreter&, const Value& v, CallArgs& a) { return Compare(v, a, "eq", ast::CompareOp::kEq); }
Result Ne(Interpreter&, const Value& v, CallArgs& a) { return Compare(v, a, "ne", ast::CompareOp::kNe); }
Result Lt(Interpreter&, const Value& v, CallArgs& a) { return Compare(v, a, "lt", ast::CompareOp::kLt); }
Result Le(Interpreter&, const Value& v, CallArgs& a) { return Compare(v, a, "le", ast::CompareOp::kLe); }
Result Gt(Interpreter&, const Value& v, CallArgs& a) { return Compare(v, a, "gt", ast::CompareOp::kGt); }
Result Ge(Interpreter&, const Value& v, CallArgs& a) { return Compare(v, a, "ge", ast::CompareOp::kGe); }

Result In(Interpreter&, const Value& v, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("in", args, {"seq"}, 1));
  return PyContains(*a[0], v);
}

// Python `is`: singletons and identical objects; equal small values count as identical.
Result SameAs(Interpreter&, const Value& v, CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(Value other, OneArg("sameas", args));
  if (v.kind() != other.kind()) return false;
  switch (v.kind()) {
    case ValueKind::kNone:
    case ValueKind::kUndefined:
      return v.is_none();
    case ValueKind::kBool:
      return v.bool_value() == other.bool_value();
    case ValueKind::kInt:
    case ValueKind::kFloat:
    case ValueKind::kString:
      return PyEquals(v, other);
    default:
      return v.identity() == other.identity();
  }
}

Result FilterTest(Interpreter&, const Value& v, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(NoArgs("filter", args));
  return v.is_string() && IsKnownFilter(v.str());
}

Result TestTest(Interpreter&, const Value& v, CallArgs& args) {
  QWEN_RETURN_IF_ERROR(NoArgs("test", args));
  return v.is_string() && IsKnownTest(v.str());
}

}  // namespace

const std::vector<TestEntry>& Tests() {
  static const auto* const kTable = new std::vector<TestEntry>{
      {"defined", Defined},   {"undefined", Undefined}, {"none", None},
      {"boolean", Boolean},   {"false", False},         {"true", True},
      {"integer", Integer},   {"float", Float},         {"number", Number},
      {"string", String},     {"mapping", Mapping},     {"iterable", Iterable},
      {"sequence", Sequence}, {"callable", CallableTest}, {"escaped", Escaped},
      {"lower", Lower},       {"upper", Upper},         {"odd", Odd},
      {"even", Even},         {"divisibleby", DivisibleBy}, {"eq", Eq},
      {"equalto", Eq},        {"==", Eq},               {"ne", Ne},
      {"!=", Ne},             {"lt", Lt},               {"lessthan", Lt},
      {"<", Lt},              {"le", Le},               {"<=", Le},
      {"gt", Gt},             {"greaterthan", Gt},      {">", Gt},
      {"ge", Ge},             {">=", Ge},               {"in", In},
      {"sameas", SameAs},     {"filter", FilterTest},   {"test", TestTest},
  };
  return *kTable;
}

}  // namespace qwen::gateway::jinja::internal

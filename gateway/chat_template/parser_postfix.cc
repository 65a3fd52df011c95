// Postfix half of the expression parser (jinja2/parser.py parse_subscript, parse_call_args,
// parse_filter, parse_test): what may follow a primary expression.
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/chat_template/builtins.h"
#include "gateway/chat_template/parser_internal.h"

namespace qwen::gateway::jinja {

using ast::Expr;
using ast::ExprKind;
using ast::ExprPtr;

absl::StatusOr<ExprPtr> Parser::ParseSubscript(ExprPtr node) {
  const Token& token = Cur();
  Next();
  if (token.value == ".") {
    const Token& attr = Cur();
    Next();
    if (attr.kind == TokenKind::kName) {
      ExprPtr e = MakeExpr(ExprKind::kGetAttr, token.offset);
      e->name = attr.value;
      e->operands.push_back(std::move(node));
      return e;
    }
    if (attr.kind != TokenKind::kInteger) return Fail(attr.offset, "expected name or number");
    ExprPtr index = MakeExpr(ExprKind::kConst, attr.offset);
    index->constant = Value::Int(attr.int_value);
    ExprPtr e = MakeExpr(ExprKind::kGetItem, token.offset);
    e->operands.push_back(std::move(node));
    e->operands.push_back(std::move(index));
    return e;
  }
  std::vector<ExprPtr> args;
  while (!IsOp("]")) {
    if (!args.empty()) QWEN_RETURN_IF_ERROR(ExpectOp(","));
    QWEN_ASSIGN_OR_RETURN(ExprPtr arg, ParseSubscribed());
    args.push_back(std::move(arg));
  }
  QWEN_RETURN_IF_ERROR(ExpectOp("]"));
  ExprPtr e = MakeExpr(ExprKind::kGetItem, token.offset);
  e->operands.push_back(std::move(node));
  if (args.size() == 1) {
    e->operands.push_back(std::move(args[0]));
  } else {
    ExprPtr tuple = MakeExpr(ExprKind::kTuple, token.offset);
    tuple->operands = std::move(args);
    e->operands.push_back(std::move(tuple));
  }
  return e;
}

absl::StatusOr<ExprPtr> Parser::ParseSubscribed() {
  ExprPtr slice = MakeExpr(ExprKind::kSlice, Cur().offset);
  if (SkipOp(":")) {
    slice->operands.push_back(nullptr);
  } else {
    QWEN_ASSIGN_OR_RETURN(ExprPtr node, ParseExpression());
    if (!SkipOp(":")) return node;
    slice->operands.push_back(std::move(node));
  }
  const auto at_end = [&] { return IsOp("]") || IsOp(","); };
  if (IsOp(":") || at_end()) {
    slice->operands.push_back(nullptr);
  } else {
    QWEN_ASSIGN_OR_RETURN(ExprPtr stop, ParseExpression());
    slice->operands.push_back(std::move(stop));
  }
  if (SkipOp(":") && !at_end()) {
    QWEN_ASSIGN_OR_RETURN(ExprPtr step, ParseExpression());
    slice->operands.push_back(std::move(step));
  } else {
    slice->operands.push_back(nullptr);
  }
  return slice;
}

absl::Status Parser::ParseCallArgs(Expr* call) {
  const size_t offset = Cur().offset;
  QWEN_RETURN_IF_ERROR(ExpectOp("("));
  const auto ensure = [&](bool ok) {
    return ok ? absl::OkStatus() : Fail(offset, "invalid syntax for function call expression");
  };
  bool require_comma = false;
  while (!IsOp(")")) {
    if (require_comma) {
      QWEN_RETURN_IF_ERROR(ExpectOp(","));
      if (IsOp(")")) break;
    }
    if (IsOp("*")) {
      QWEN_RETURN_IF_ERROR(ensure(call->dyn_args == nullptr && call->dyn_kwargs == nullptr));
      Next();
      QWEN_ASSIGN_OR_RETURN(call->dyn_args, ParseExpression());
    } else if (IsOp("**")) {
      QWEN_RETURN_IF_ERROR(ensure(call->dyn_kwargs == nullptr));
      Next();
      QWEN_ASSIGN_OR_RETURN(call->dyn_kwargs, ParseExpression());
    } else if (Cur().kind == TokenKind::kName && Look().kind == TokenKind::kOperator &&
               Look().value == "=") {
      QWEN_RETURN_IF_ERROR(ensure(call->dyn_kwargs == nullptr));
      std::string key = Cur().value;
      Next();
      Next();
      QWEN_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
      call->keywords.push_back({std::move(key), std::move(value)});
    } else {
      QWEN_RETURN_IF_ERROR(ensure(call->dyn_args == nullptr && call->dyn_kwargs == nullptr &&
                                  call->keywords.empty()));
      QWEN_ASSIGN_OR_RETURN(ExprPtr arg, ParseExpression());
      call->operands.push_back(std::move(arg));
    }
    require_comma = true;
  }
  return ExpectOp(")");
}

absl::StatusOr<ExprPtr> Parser::ParseCall(ExprPtr node) {
  ExprPtr call = MakeExpr(ExprKind::kCall, Cur().offset);
  call->operands.push_back(std::move(node));
  QWEN_RETURN_IF_ERROR(ParseCallArgs(call.get()));
  return call;
}

absl::StatusOr<ExprPtr> Parser::ParseFilter(ExprPtr node, bool start_inline) {
  while (IsOp("|") || start_inline) {
    if (!start_inline) Next();
    const size_t offset = Cur().offset;
    QWEN_ASSIGN_OR_RETURN(std::string name, ExpectName());
    while (SkipOp(".")) {
      QWEN_ASSIGN_OR_RETURN(std::string part, ExpectName());
      name += "." + part;
    }
    if (!IsKnownFilter(name)) return Fail(offset, absl::StrCat("No filter named '", name, "'."));
    ExprPtr filter = MakeExpr(ExprKind::kFilter, offset);
    filter->name = std::move(name);
    filter->operands.push_back(std::move(node));
    if (IsOp("(")) QWEN_RETURN_IF_ERROR(ParseCallArgs(filter.get()));
    node = std::move(filter);
    start_inline = false;
  }
  return node;
}

absl::StatusOr<ExprPtr> Parser::ParseTest(ExprPtr node) {
  const size_t offset = Cur().offset;
  Next();  // "is"
  const bool negated = SkipName("not");
  const size_t name_offset = Cur().offset;
  QWEN_ASSIGN_OR_RETURN(std::string name, ExpectName());
  while (SkipOp(".")) {
    QWEN_ASSIGN_OR_RETURN(std::string part, ExpectName());
    name += "." + part;
  }
  if (!IsKnownTest(name)) return Fail(name_offset, absl::StrCat("No test named '", name, "'."));
  ExprPtr test = MakeExpr(ExprKind::kTest, offset);
  test->name = std::move(name);
  test->operands.push_back(std::move(node));
  const TokenKind kind = Cur().kind;
  if (IsOp("(")) {
    QWEN_RETURN_IF_ERROR(ParseCallArgs(test.get()));
  } else if ((kind == TokenKind::kName || kind == TokenKind::kString ||
              kind == TokenKind::kInteger || kind == TokenKind::kFloat || IsOp("[") ||
              IsOp("{")) &&
             !IsName("else") && !IsName("or") && !IsName("and")) {
    if (IsName("is")) return Fail(Cur().offset, "You cannot chain multiple tests with is");
    QWEN_ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
    QWEN_ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
    test->operands.push_back(std::move(arg));
  }
  if (!negated) return test;
  ExprPtr negation = MakeExpr(ExprKind::kNot, offset);
  negation->operands.push_back(std::move(test));
  return negation;
}

}  // namespace qwen::gateway::jinja

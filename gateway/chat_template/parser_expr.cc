// Expression half of the parser (jinja2/parser.py: parse_tuple ... parse_test). Precedence, from
// loosest to tightest: `x if c else y`, or, and, not, comparisons/in, + -, ~, * / // %, **,
// unary - +, then primaries with postfix (.attr, [item], call) and filters/tests.
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/chat_template/parser_internal.h"

namespace qwen::gateway::jinja {
namespace {

using ast::BinaryOp;
using ast::CompareOp;
using ast::Expr;
using ast::ExprKind;
using ast::ExprPtr;

ExprPtr Binary(ExprKind kind, ExprPtr left, ExprPtr right, size_t offset) {
  ExprPtr e = MakeExpr(kind, offset);
  e->operands.push_back(std::move(left));
  e->operands.push_back(std::move(right));
  return e;
}

bool CanAssign(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kName:
    case ExprKind::kNsRef:
      return true;
    case ExprKind::kTuple:
      for (const ExprPtr& item : e.operands) {
        if (!CanAssign(*item)) return false;
      }
      return true;
    default:
      return false;
  }
}

const char* KindName(ExprKind kind) {
  switch (kind) {
    case ExprKind::kConst:
      return "const";
    case ExprKind::kList:
      return "list";
    case ExprKind::kDict:
      return "dict";
    case ExprKind::kTuple:
      return "tuple";
    default:
      return "expression";
  }
}

}  // namespace

bool Parser::IsTupleEnd(const std::vector<std::string>& extra_end) const {
  if (Cur().kind == TokenKind::kVariableEnd || Cur().kind == TokenKind::kBlockEnd || IsOp(")")) {
    return true;
  }
  return TestAny(extra_end);
}

absl::StatusOr<ExprPtr> Parser::ParseTuple(bool simplified, bool with_condexpr,
                                           const std::vector<std::string>& extra_end,
                                           bool explicit_parentheses, bool with_namespace) {
  const size_t offset = Cur().offset;
  std::vector<ExprPtr> args;
  bool is_tuple = false;
  while (true) {
    if (!args.empty()) QWEN_RETURN_IF_ERROR(ExpectOp(","));
    if (IsTupleEnd(extra_end)) break;
    if (simplified) {
      QWEN_ASSIGN_OR_RETURN(ExprPtr e, ParsePrimary(with_namespace));
      args.push_back(std::move(e));
    } else {
      QWEN_ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(with_condexpr));
      args.push_back(std::move(e));
    }
    if (!IsOp(",")) break;
    is_tuple = true;
  }
  if (!is_tuple) {
    if (!args.empty()) return std::move(args[0]);
    if (!explicit_parentheses) {
      return Fail(Cur().offset, absl::StrCat("Expected an expression, got '", Describe(Cur()), "'"));
    }
  }
  ExprPtr tuple = MakeExpr(ExprKind::kTuple, offset);
  tuple->operands = std::move(args);
  return tuple;
}

absl::StatusOr<ExprPtr> Parser::ParseAssignTarget(bool with_tuple, bool name_only,
                                                  const std::vector<std::string>& extra_end,
                                                  bool with_namespace) {
  ExprPtr target;
  if (name_only) {
    const size_t offset = Cur().offset;
    QWEN_ASSIGN_OR_RETURN(std::string name, ExpectName());
    target = MakeExpr(ExprKind::kName, offset);
    target->name = std::move(name);
  } else if (with_tuple) {
    QWEN_ASSIGN_OR_RETURN(target, ParseTuple(true, true, extra_end, false, with_namespace));
  } else {
    QWEN_ASSIGN_OR_RETURN(target, ParsePrimary(with_namespace));
  }
  if (!CanAssign(*target)) {
    return Fail(target->offset, absl::StrCat("can't assign to '", KindName(target->kind), "'"));
  }
  return target;
}

absl::StatusOr<ExprPtr> Parser::ParseExpression(bool with_condexpr) {
  return with_condexpr ? ParseCondExpr() : ParseOr();
}

absl::StatusOr<ExprPtr> Parser::ParseCondExpr() {
  size_t offset = Cur().offset;
  QWEN_ASSIGN_OR_RETURN(ExprPtr expr1, ParseOr());
  while (SkipName("if")) {
    QWEN_ASSIGN_OR_RETURN(ExprPtr expr2, ParseOr());
    ExprPtr expr3;
    if (SkipName("else")) {
      QWEN_ASSIGN_OR_RETURN(expr3, ParseCondExpr());
    }
    ExprPtr cond = MakeExpr(ExprKind::kCond, offset);
    cond->operands.push_back(std::move(expr2));
    cond->operands.push_back(std::move(expr1));
    cond->operands.push_back(std::move(expr3));
    expr1 = std::move(cond);
    offset = Cur().offset;
  }
  return expr1;
}

absl::StatusOr<ExprPtr> Parser::ParseOr() {
  const size_t offset = Cur().offset;
  QWEN_ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
  while (SkipName("or")) {
    QWEN_ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
    left = Binary(ExprKind::kOr, std::move(left), std::move(right), offset);
  }
  return left;
}

absl::StatusOr<ExprPtr> Parser::ParseAnd() {
  const size_t offset = Cur().offset;
  QWEN_ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
  while (SkipName("and")) {
    QWEN_ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
    left = Binary(ExprKind::kAnd, std::move(left), std::move(right), offset);
  }
  return left;
}

absl::StatusOr<ExprPtr> Parser::ParseNot() {
  if (IsName("not")) {
    ExprPtr node = MakeExpr(ExprKind::kNot, Cur().offset);
    Next();
    QWEN_ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
    node->operands.push_back(std::move(operand));
    return node;
  }
  return ParseCompare();
}

absl::StatusOr<ExprPtr> Parser::ParseCompare() {
  const size_t offset = Cur().offset;
  QWEN_ASSIGN_OR_RETURN(ExprPtr expr, ParseMath1());
  ExprPtr compare = MakeExpr(ExprKind::kCompare, offset);
  while (true) {
    static constexpr std::pair<std::string_view, CompareOp> kOps[] = {
        {"==", CompareOp::kEq}, {"!=", CompareOp::kNe}, {"<", CompareOp::kLt},
        {"<=", CompareOp::kLe}, {">", CompareOp::kGt},  {">=", CompareOp::kGe}};
    std::optional<CompareOp> op;
    for (const auto& [text, value] : kOps) {
      if (IsOp(text)) op = value;
    }
    if (op) {
      Next();
    } else if (SkipName("in")) {
      op = CompareOp::kIn;
    } else if (IsName("not") && Look().kind == TokenKind::kName && Look().value == "in") {
      Next();
      Next();
      op = CompareOp::kNotIn;
    } else {
      break;
    }
    QWEN_ASSIGN_OR_RETURN(ExprPtr operand, ParseMath1());
    compare->compare_ops.push_back(*op);
    compare->operands.push_back(std::move(operand));
  }
  if (compare->compare_ops.empty()) return expr;
  compare->operands.insert(compare->operands.begin(), std::move(expr));
  return compare;
}

absl::StatusOr<ExprPtr> Parser::ParseMath1() {
  const size_t offset = Cur().offset;
  QWEN_ASSIGN_OR_RETURN(ExprPtr left, ParseConcat());
  while (IsOp("+") || IsOp("-")) {
    const BinaryOp op = IsOp("+") ? BinaryOp::kAdd : BinaryOp::kSub;
    Next();
    QWEN_ASSIGN_OR_RETURN(ExprPtr right, ParseConcat());
    left = Binary(ExprKind::kBinary, std::move(left), std::move(right), offset);
    left->binary_op = op;
  }
  return left;
}

absl::StatusOr<ExprPtr> Parser::ParseConcat() {
  const size_t offset = Cur().offset;
  QWEN_ASSIGN_OR_RETURN(ExprPtr first, ParseMath2());
  if (!IsOp("~")) return first;
  ExprPtr concat = MakeExpr(ExprKind::kConcat, offset);
  concat->operands.push_back(std::move(first));
  while (SkipOp("~")) {
    QWEN_ASSIGN_OR_RETURN(ExprPtr next, ParseMath2());
    concat->operands.push_back(std::move(next));
  }
  return concat;
}

absl::StatusOr<ExprPtr> Parser::ParseMath2() {
  const size_t offset = Cur().offset;
  QWEN_ASSIGN_OR_RETURN(ExprPtr left, ParsePow());
  while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
    const BinaryOp op = IsOp("*")    ? BinaryOp::kMul
                        : IsOp("/")  ? BinaryOp::kDiv
                        : IsOp("//") ? BinaryOp::kFloorDiv
                                     : BinaryOp::kMod;
    Next();
    QWEN_ASSIGN_OR_RETURN(ExprPtr right, ParsePow());
    left = Binary(ExprKind::kBinary, std::move(left), std::move(right), offset);
    left->binary_op = op;
  }
  return left;
}

absl::StatusOr<ExprPtr> Parser::ParsePow() {
  const size_t offset = Cur().offset;
  QWEN_ASSIGN_OR_RETURN(ExprPtr left, ParseUnary(true));
  while (SkipOp("**")) {
    QWEN_ASSIGN_OR_RETURN(ExprPtr right, ParseUnary(true));
    left = Binary(ExprKind::kBinary, std::move(left), std::move(right), offset);
    left->binary_op = BinaryOp::kPow;
  }
  return left;
}

absl::StatusOr<ExprPtr> Parser::ParseUnary(bool with_filter) {
  const size_t offset = Cur().offset;
  ExprPtr node;
  if (IsOp("-") || IsOp("+")) {
    node = MakeExpr(IsOp("-") ? ExprKind::kNeg : ExprKind::kPos, offset);
    Next();
    QWEN_ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary(false));
    node->operands.push_back(std::move(operand));
  } else {
    QWEN_ASSIGN_OR_RETURN(node, ParsePrimary());
  }
  QWEN_ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
  if (with_filter) {
    QWEN_ASSIGN_OR_RETURN(node, ParseFilterExpr(std::move(node)));
  }
  return node;
}

absl::StatusOr<ExprPtr> Parser::ParsePrimary(bool with_namespace) {
  const Token& token = Cur();
  ExprPtr node;
  switch (token.kind) {
    case TokenKind::kName: {
      Next();
      if (token.value == "true" || token.value == "True" || token.value == "false" ||
          token.value == "False") {
        node = MakeExpr(ExprKind::kConst, token.offset);
        node->constant = Value::Bool(token.value == "true" || token.value == "True");
      } else if (token.value == "none" || token.value == "None") {
        node = MakeExpr(ExprKind::kConst, token.offset);
        node->constant = Value::None();
      } else if (with_namespace && IsOp(".")) {
        Next();
        node = MakeExpr(ExprKind::kNsRef, token.offset);
        node->name = token.value;
        QWEN_ASSIGN_OR_RETURN(node->attr, ExpectName());
      } else {
        node = MakeExpr(ExprKind::kName, token.offset);
        node->name = token.value;
      }
      return node;
    }
    case TokenKind::kString: {
      std::string text;
      while (Cur().kind == TokenKind::kString) {
        text += Cur().value;
        Next();
      }
      node = MakeExpr(ExprKind::kConst, token.offset);
      node->constant = Value::String(std::move(text));
      return node;
    }
    case TokenKind::kInteger:
    case TokenKind::kFloat:
      node = MakeExpr(ExprKind::kConst, token.offset);
      node->constant = token.kind == TokenKind::kInteger ? Value::Int(token.int_value)
                                                         : Value::Float(token.float_value);
      Next();
      return node;
    default:
      break;
  }
  if (IsOp("(")) {
    Next();
    QWEN_ASSIGN_OR_RETURN(node, ParseTuple(false, true, {}, true));
    QWEN_RETURN_IF_ERROR(ExpectOp(")"));
    return node;
  }
  if (IsOp("[")) return ParseList();
  if (IsOp("{")) return ParseDict();
  if (token.kind == TokenKind::kEof) return Fail(token.offset, "unexpected end of template");
  return Fail(token.offset, absl::StrCat("unexpected '", Describe(token), "'"));
}

absl::StatusOr<ExprPtr> Parser::ParseList() {
  ExprPtr node = MakeExpr(ExprKind::kList, Cur().offset);
  QWEN_RETURN_IF_ERROR(ExpectOp("["));
  while (!IsOp("]")) {
    if (!node->operands.empty()) QWEN_RETURN_IF_ERROR(ExpectOp(","));
    if (IsOp("]")) break;
    QWEN_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression());
    node->operands.push_back(std::move(item));
  }
  QWEN_RETURN_IF_ERROR(ExpectOp("]"));
  return node;
}

absl::StatusOr<ExprPtr> Parser::ParseDict() {
  ExprPtr node = MakeExpr(ExprKind::kDict, Cur().offset);
  QWEN_RETURN_IF_ERROR(ExpectOp("{"));
  while (!IsOp("}")) {
    if (!node->operands.empty()) QWEN_RETURN_IF_ERROR(ExpectOp(","));
    if (IsOp("}")) break;
    QWEN_ASSIGN_OR_RETURN(ExprPtr key, ParseExpression());
    QWEN_RETURN_IF_ERROR(ExpectOp(":"));
    QWEN_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
    node->operands.push_back(std::move(key));
    node->operands.push_back(std::move(value));
  }
  QWEN_RETURN_IF_ERROR(ExpectOp("}"));
  return node;
}

absl::StatusOr<ExprPtr> Parser::ParsePostfix(ExprPtr node) {
  while (true) {
    if (IsOp(".") || IsOp("[")) {
      QWEN_ASSIGN_OR_RETURN(node, ParseSubscript(std::move(node)));
    } else if (IsOp("(")) {
      QWEN_ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
    } else {
      return node;
    }
  }
}

absl::StatusOr<ExprPtr> Parser::ParseFilterExpr(ExprPtr node) {
  while (true) {
    if (IsOp("|")) {
      QWEN_ASSIGN_OR_RETURN(node, ParseFilter(std::move(node), false));
    } else if (IsName("is")) {
      QWEN_ASSIGN_OR_RETURN(node, ParseTest(std::move(node)));
    } else if (IsOp("(")) {
      QWEN_ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
    } else {
      return node;
    }
  }
}

}  // namespace qwen::gateway::jinja

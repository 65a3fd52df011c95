// Statement half of the parser (jinja2/parser.py: subparse, parse_statement and parse_<tag>).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "gateway/chat_template/parser.h"
#include "gateway/chat_template/parser_internal.h"

namespace qwen::gateway::jinja {
namespace {

using ast::Body;
using ast::Expr;
using ast::ExprKind;
using ast::ExprPtr;
using ast::Stmt;
using ast::StmtKind;
using ast::StmtPtr;

StmtPtr MakeStmt(StmtKind kind, size_t offset) {
  auto s = std::make_unique<Stmt>();
  s->kind = kind;
  s->offset = offset;
  return s;
}

// "name:endfor" -> "endfor" (jinja2's describe_token_expr).
std::string RuleName(const std::string& rule) {
  const size_t colon = rule.find(':');
  return colon == std::string::npos ? rule : rule.substr(colon + 1);
}

bool ExprUsesName(const Expr* e, std::string_view name);

bool BodyUsesName(const Body& body, std::string_view name) {
  for (const StmtPtr& s : body) {
    for (const ExprPtr& e : s->exprs) {
      if (ExprUsesName(e.get(), name)) return true;
    }
    for (const ExprPtr& e : s->defaults) {
      if (ExprUsesName(e.get(), name)) return true;
    }
    if (BodyUsesName(s->body, name) || BodyUsesName(s->else_body, name)) return true;
  }
  return false;
}

bool ExprUsesName(const Expr* e, std::string_view name) {
  if (e == nullptr) return false;
  if (e->kind == ExprKind::kName && e->name == name) return true;
  for (const ExprPtr& op : e->operands) {
    if (ExprUsesName(op.get(), name)) return true;
  }
  for (const ast::Keyword& k : e->keywords) {
    if (ExprUsesName(k.value.get(), name)) return true;
  }
  return ExprUsesName(e->dyn_args.get(), name) || ExprUsesName(e->dyn_kwargs.get(), name);
}

}  // namespace

ast::ExprPtr MakeExpr(ast::ExprKind kind, size_t offset) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->offset = offset;
  return e;
}

bool Parser::Test(const Token& token, std::string_view rule) const {
  const size_t colon = rule.find(':');
  if (colon != std::string_view::npos) {
    return token.kind == TokenKind::kName && token.value == rule.substr(colon + 1);
  }
  if (rule == "block_end") return token.kind == TokenKind::kBlockEnd;
  if (rule == "variable_end") return token.kind == TokenKind::kVariableEnd;
  return token.kind == TokenKind::kOperator && token.value == rule;
}

bool Parser::TestAny(const std::vector<std::string>& rules) const {
  for (const std::string& r : rules) {
    if (Test(Cur(), r)) return true;
  }
  return false;
}

bool Parser::SkipOp(std::string_view op) {
  if (!IsOp(op)) return false;
  Next();
  return true;
}

bool Parser::SkipName(std::string_view name) {
  if (!IsName(name)) return false;
  Next();
  return true;
}

std::string Parser::Describe(const Token& token) const {
  switch (token.kind) {
    case TokenKind::kData:
      return "template data / text";
    case TokenKind::kBlockBegin:
      return "begin of statement block";
    case TokenKind::kBlockEnd:
      return "end of statement block";
    case TokenKind::kVariableBegin:
      return "begin of print statement";
    case TokenKind::kVariableEnd:
      return "end of print statement";
    case TokenKind::kString:
      return "string";
    case TokenKind::kInteger:
      return "integer";
    case TokenKind::kFloat:
      return "float";
    case TokenKind::kEof:
      return "end of template";
    case TokenKind::kName:
    case TokenKind::kOperator:
      return token.value;
  }
  return token.value;
}

absl::Status Parser::Fail(size_t offset, const std::string& message) const {
  return absl::InvalidArgumentError(absl::StrCat(map_.Describe(offset), ": ", message));
}

absl::Status Parser::ExpectOp(std::string_view op) {
  if (SkipOp(op)) return absl::OkStatus();
  if (Cur().kind == TokenKind::kEof) {
    return Fail(Cur().offset, absl::StrCat("unexpected end of template, expected '",
                                           std::string(op), "'."));
  }
  return Fail(Cur().offset, absl::StrCat("expected token '", std::string(op), "', got '",
                                         Describe(Cur()), "'"));
}

absl::StatusOr<std::string> Parser::ExpectName() {
  if (Cur().kind != TokenKind::kName) {
    return Fail(Cur().offset, absl::StrCat("expected token 'name', got '", Describe(Cur()), "'"));
  }
  std::string name = Cur().value;
  Next();
  return name;
}

absl::Status Parser::ExpectKind(TokenKind kind) {
  if (Cur().kind == kind) {
    Next();
    return absl::OkStatus();
  }
  Token want;
  want.kind = kind;
  return Fail(Cur().offset, absl::StrCat("expected token '", Describe(want), "', got '",
                                         Describe(Cur()), "'"));
}

absl::Status Parser::FailUnknownTag(const Token& token) {
  std::vector<std::string> message;
  const bool eof = token.kind == TokenKind::kEof;
  message.push_back(eof ? "Unexpected end of template."
                        : absl::StrCat("Encountered unknown tag '", token.value, "'."));
  if (!end_token_stack_.empty()) {
    std::vector<std::string> looking;
    bool expected_somewhere = false;
    for (const auto& rules : end_token_stack_) {
      for (const std::string& r : rules) expected_somewhere |= !eof && RuleName(r) == token.value;
    }
    for (const std::string& r : end_token_stack_.back()) {
      looking.push_back(absl::StrCat("'", RuleName(r), "'"));
    }
    const std::string currently = absl::StrJoin(looking, " or ");
    if (expected_somewhere) {
      message.push_back(absl::StrCat("You probably made a nesting mistake. Jinja is expecting this "
                                     "tag, but currently looking for ",
                                     currently, "."));
    } else {
      message.push_back(absl::StrCat("Jinja was looking for the following tags: ", currently, "."));
    }
  }
  size_t offset = token.offset;
  if (!tag_stack_.empty()) {
    message.push_back(absl::StrCat("The innermost block that needs to be closed is '",
                                   tag_stack_.back().name, "'."));
    // An unclosed block is easier to find from where it was opened than from the end.
    if (eof) {
      offset = tag_stack_.back().offset;
      message.push_back(absl::StrCat("It was opened at ", map_.Describe(offset), "."));
    }
  }
  return Fail(offset, absl::StrJoin(message, " "));
}

absl::Status Parser::FailEof(const std::vector<std::string>& end_tokens) {
  end_token_stack_.push_back(end_tokens);
  absl::Status status = FailUnknownTag(Cur());
  end_token_stack_.pop_back();
  return status;
}

absl::StatusOr<Body> Parser::Parse() {
  QWEN_ASSIGN_OR_RETURN(Body body, Subparse(nullptr));
  if (Cur().kind != TokenKind::kEof) return Fail(Cur().offset, "unexpected token");
  return body;
}

absl::StatusOr<Body> Parser::Subparse(const std::vector<std::string>* end_tokens) {
  Body body;
  if (end_tokens != nullptr) end_token_stack_.push_back(*end_tokens);
  absl::StatusOr<Body> result = [&]() -> absl::StatusOr<Body> {
    while (Cur().kind != TokenKind::kEof) {
      const Token& token = Cur();
      if (token.kind == TokenKind::kData) {
        StmtPtr s = MakeStmt(StmtKind::kData, token.offset);
        s->text = token.value;
        body.push_back(std::move(s));
        Next();
      } else if (token.kind == TokenKind::kVariableBegin) {
        Next();
        StmtPtr s = MakeStmt(StmtKind::kOutput, token.offset);
        QWEN_ASSIGN_OR_RETURN(ExprPtr e, ParseTuple(false, true, {}, false));
        s->exprs.push_back(std::move(e));
        QWEN_RETURN_IF_ERROR(ExpectKind(TokenKind::kVariableEnd));
        body.push_back(std::move(s));
      } else if (token.kind == TokenKind::kBlockBegin) {
        Next();
        if (end_tokens != nullptr && TestAny(*end_tokens)) return std::move(body);
        QWEN_ASSIGN_OR_RETURN(StmtPtr s, ParseStatement());
        body.push_back(std::move(s));
        QWEN_RETURN_IF_ERROR(ExpectKind(TokenKind::kBlockEnd));
      } else {
        return Fail(token.offset, "internal parsing error");
      }
    }
    return std::move(body);
  }();
  if (end_tokens != nullptr) end_token_stack_.pop_back();
  return result;
}

absl::StatusOr<Body> Parser::ParseStatements(const std::vector<std::string>& end_tokens,
                                             bool drop_needle) {
  SkipOp(":");
  QWEN_RETURN_IF_ERROR(ExpectKind(TokenKind::kBlockEnd));
  QWEN_ASSIGN_OR_RETURN(Body body, Subparse(&end_tokens));
  if (Cur().kind == TokenKind::kEof) return FailEof(end_tokens);
  if (drop_needle) Next();
  return body;
}

absl::StatusOr<StmtPtr> Parser::ParseStatement() {
  const Token& token = Cur();
  if (token.kind != TokenKind::kName) return Fail(token.offset, "tag name expected");
  const std::string& tag = token.value;
  static constexpr std::string_view kUnsupported[] = {"block",  "extends", "include",
                                                      "import", "from",    "autoescape"};
  for (std::string_view u : kUnsupported) {
    if (tag == u) {
      return Fail(token.offset,
                  absl::StrCat("the '", tag, "' tag is not supported by this interpreter"));
    }
  }
  tag_stack_.push_back({tag, token.offset});
  absl::StatusOr<StmtPtr> result;
  if (tag == "for") {
    result = ParseFor();
  } else if (tag == "if") {
    result = ParseIf();
  } else if (tag == "set") {
    result = ParseSet();
  } else if (tag == "macro") {
    result = ParseMacro();
  } else if (tag == "call") {
    result = ParseCallBlock();
  } else if (tag == "filter") {
    result = ParseFilterBlock();
  } else if (tag == "with") {
    result = ParseWith();
  } else if (tag == "print") {
    result = ParsePrint();
  } else if (tag == "break") {
    result = ParseLoopControl(StmtKind::kBreak);
  } else if (tag == "continue") {
    result = ParseLoopControl(StmtKind::kContinue);
  } else if (tag == "generation") {
    result = ParseGeneration();
  } else {
    tag_stack_.pop_back();
    return FailUnknownTag(token);
  }
  tag_stack_.pop_back();
  return result;
}

absl::StatusOr<StmtPtr> Parser::ParseFor() {
  StmtPtr node = MakeStmt(StmtKind::kFor, Cur().offset);
  Next();
  QWEN_ASSIGN_OR_RETURN(ExprPtr target, ParseAssignTarget(true, false, {"name:in"}, false));
  if (!SkipName("in")) {
    return Fail(Cur().offset, absl::StrCat("expected token 'in', got '", Describe(Cur()), "'"));
  }
  QWEN_ASSIGN_OR_RETURN(ExprPtr iter, ParseTuple(false, false, {"name:recursive"}, false));
  ExprPtr filter;
  if (SkipName("if")) {
    QWEN_ASSIGN_OR_RETURN(filter, ParseExpression());
  }
  if (IsName("recursive")) {
    return Fail(Cur().offset, "recursive for loops are not supported by this interpreter");
  }
  ++loop_depth_;
  absl::StatusOr<Body> body = ParseStatements({"name:endfor", "name:else"}, false);
  --loop_depth_;
  if (!body.ok()) return body.status();
  node->body = std::move(*body);
  const bool has_else = IsName("else");
  Next();
  if (has_else) {
    QWEN_ASSIGN_OR_RETURN(node->else_body, ParseStatements({"name:endfor"}, true));
  }
  node->exprs.push_back(std::move(target));
  node->exprs.push_back(std::move(iter));
  node->exprs.push_back(std::move(filter));
  return node;
}

absl::StatusOr<StmtPtr> Parser::ParseIf() {
  StmtPtr node = MakeStmt(StmtKind::kIf, Cur().offset);
  Next();  // "if" or "elif"
  QWEN_ASSIGN_OR_RETURN(ExprPtr test, ParseTuple(false, false, {}, false));
  node->exprs.push_back(std::move(test));
  QWEN_ASSIGN_OR_RETURN(node->body,
                        ParseStatements({"name:elif", "name:else", "name:endif"}, false));
  if (IsName("elif")) {
    QWEN_ASSIGN_OR_RETURN(StmtPtr elif, ParseIf());
    node->else_body.push_back(std::move(elif));
  } else if (IsName("else")) {
    Next();
    QWEN_ASSIGN_OR_RETURN(node->else_body, ParseStatements({"name:endif"}, true));
  } else {
    Next();  // endif
  }
  return node;
}

absl::StatusOr<StmtPtr> Parser::ParseSet() {
  const size_t offset = Cur().offset;
  Next();
  QWEN_ASSIGN_OR_RETURN(ExprPtr target, ParseAssignTarget(true, false, {}, true));
  if (SkipOp("=")) {
    StmtPtr node = MakeStmt(StmtKind::kSet, offset);
    QWEN_ASSIGN_OR_RETURN(ExprPtr value, ParseTuple(false, true, {}, false));
    node->exprs.push_back(std::move(target));
    node->exprs.push_back(std::move(value));
    return node;
  }
  StmtPtr node = MakeStmt(StmtKind::kSetBlock, offset);
  QWEN_ASSIGN_OR_RETURN(ExprPtr filter, ParseFilter(nullptr, false));
  QWEN_ASSIGN_OR_RETURN(node->body, ParseStatements({"name:endset"}, true));
  node->exprs.push_back(std::move(target));
  node->exprs.push_back(std::move(filter));
  return node;
}

absl::Status Parser::ParseSignature(Stmt* node) {
  QWEN_RETURN_IF_ERROR(ExpectOp("("));
  while (!IsOp(")")) {
    if (!node->params.empty()) QWEN_RETURN_IF_ERROR(ExpectOp(","));
    QWEN_ASSIGN_OR_RETURN(std::string name, ExpectName());
    if (SkipOp("=")) {
      QWEN_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
      node->defaults.push_back(std::move(value));
    } else if (!node->defaults.empty()) {
      return Fail(Cur().offset, "non-default argument follows default argument");
    }
    node->params.push_back(std::move(name));
  }
  return ExpectOp(")");
}

absl::StatusOr<StmtPtr> Parser::ParseMacro() {
  StmtPtr node = MakeStmt(StmtKind::kMacro, Cur().offset);
  Next();
  QWEN_ASSIGN_OR_RETURN(node->text, ExpectName());
  QWEN_RETURN_IF_ERROR(ParseSignature(node.get()));
  const int saved_depth = loop_depth_;
  loop_depth_ = 0;
  absl::StatusOr<Body> body = ParseStatements({"name:endmacro"}, true);
  loop_depth_ = saved_depth;
  if (!body.ok()) return body.status();
  node->body = std::move(*body);
  node->uses_varargs = BodyUsesName(node->body, "varargs");
  node->uses_kwargs = BodyUsesName(node->body, "kwargs");
  node->uses_caller = BodyUsesName(node->body, "caller");
  return node;
}

absl::StatusOr<StmtPtr> Parser::ParseCallBlock() {
  StmtPtr node = MakeStmt(StmtKind::kCallBlock, Cur().offset);
  Next();
  if (IsOp("(")) QWEN_RETURN_IF_ERROR(ParseSignature(node.get()));
  QWEN_ASSIGN_OR_RETURN(ExprPtr call, ParseExpression());
  if (call->kind != ExprKind::kCall) return Fail(node->offset, "expected call");
  node->exprs.push_back(std::move(call));
  const int saved_depth = loop_depth_;
  loop_depth_ = 0;
  absl::StatusOr<Body> body = ParseStatements({"name:endcall"}, true);
  loop_depth_ = saved_depth;
  if (!body.ok()) return body.status();
  node->body = std::move(*body);
  node->uses_varargs = BodyUsesName(node->body, "varargs");
  node->uses_kwargs = BodyUsesName(node->body, "kwargs");
  return node;
}

absl::StatusOr<StmtPtr> Parser::ParseFilterBlock() {
  StmtPtr node = MakeStmt(StmtKind::kFilterBlock, Cur().offset);
  Next();
  QWEN_ASSIGN_OR_RETURN(ExprPtr filter, ParseFilter(nullptr, true));
  node->exprs.push_back(std::move(filter));
  QWEN_ASSIGN_OR_RETURN(node->body, ParseStatements({"name:endfilter"}, true));
  return node;
}

absl::StatusOr<StmtPtr> Parser::ParseWith() {
  StmtPtr node = MakeStmt(StmtKind::kWith, Cur().offset);
  Next();
  while (Cur().kind != TokenKind::kBlockEnd) {
    if (!node->exprs.empty()) QWEN_RETURN_IF_ERROR(ExpectOp(","));
    QWEN_ASSIGN_OR_RETURN(ExprPtr target, ParseAssignTarget(true, false, {}, false));
    QWEN_RETURN_IF_ERROR(ExpectOp("="));
    QWEN_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
    node->exprs.push_back(std::move(target));
    node->exprs.push_back(std::move(value));
  }
  QWEN_ASSIGN_OR_RETURN(node->body, ParseStatements({"name:endwith"}, true));
  return node;
}

absl::StatusOr<StmtPtr> Parser::ParsePrint() {
  StmtPtr node = MakeStmt(StmtKind::kOutput, Cur().offset);
  Next();
  while (Cur().kind != TokenKind::kBlockEnd) {
    if (!node->exprs.empty()) QWEN_RETURN_IF_ERROR(ExpectOp(","));
    QWEN_ASSIGN_OR_RETURN(ExprPtr e, ParseExpression());
    node->exprs.push_back(std::move(e));
  }
  return node;
}

absl::StatusOr<StmtPtr> Parser::ParseLoopControl(StmtKind kind) {
  const Token& token = Cur();
  if (loop_depth_ == 0) return Fail(token.offset, absl::StrCat("'", token.value, "' outside loop"));
  StmtPtr node = MakeStmt(kind, token.offset);
  Next();
  return node;
}

absl::StatusOr<StmtPtr> Parser::ParseGeneration() {
  StmtPtr node = MakeStmt(StmtKind::kScope, Cur().offset);
  Next();
  QWEN_ASSIGN_OR_RETURN(node->body, ParseStatements({"name:endgeneration"}, true));
  return node;
}

absl::StatusOr<ast::Body> ParseTemplate(const std::vector<Token>& tokens, const SourceMap& map) {
  Parser parser(tokens, map);
  return parser.Parse();
}

}  // namespace qwen::gateway::jinja

// Internal: the Parser class shared by parser_stmt.cc (statements) and parser_expr.cc
// (expressions). Method names mirror jinja2/parser.py.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/chat_template/ast.h"
#include "gateway/chat_template/lexer.h"

namespace qwen::gateway::jinja {

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const SourceMap& map) : tokens_(tokens), map_(map) {}

  absl::StatusOr<ast::Body> Parse();

  // --- expressions (parser_expr.cc) ---
  // `extra_end` names tokens ("name:in", "name:recursive") that also end a tuple.
  absl::StatusOr<ast::ExprPtr> ParseTuple(bool simplified, bool with_condexpr,
                                          const std::vector<std::string>& extra_end,
                                          bool explicit_parentheses, bool with_namespace = false);
  absl::StatusOr<ast::ExprPtr> ParseExpression(bool with_condexpr = true);
  absl::StatusOr<ast::ExprPtr> ParseAssignTarget(bool with_tuple, bool name_only,
                                                 const std::vector<std::string>& extra_end,
                                                 bool with_namespace);
  // Parses "| name(args) | name2 ..." applied to `node` (null for filter/set blocks). With
  // `start_inline`, the first filter has no leading pipe.
  absl::StatusOr<ast::ExprPtr> ParseFilter(ast::ExprPtr node, bool start_inline);

 private:
  // --- token stream ---
  const Token& Cur() const { return tokens_[pos_]; }
  const Token& Look() const { return tokens_[pos_ + 1 < tokens_.size() ? pos_ + 1 : pos_]; }
  void Next() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool IsOp(std::string_view op) const {
    return Cur().kind == TokenKind::kOperator && Cur().value == op;
  }
  bool IsName(std::string_view name) const {
    return Cur().kind == TokenKind::kName && Cur().value == name;
  }
  // "name:in" style tests, as jinja2's token.test().
  bool Test(const Token& token, std::string_view rule) const;
  bool TestAny(const std::vector<std::string>& rules) const;
  bool SkipOp(std::string_view op);
  bool SkipName(std::string_view name);
  absl::Status ExpectOp(std::string_view op);
  absl::StatusOr<std::string> ExpectName();
  absl::Status ExpectKind(TokenKind kind);
  absl::Status Fail(size_t offset, const std::string& message) const;
  std::string Describe(const Token& token) const;

  // --- statements (parser_stmt.cc) ---
  absl::StatusOr<ast::Body> Subparse(const std::vector<std::string>* end_tokens);
  absl::StatusOr<ast::Body> ParseStatements(const std::vector<std::string>& end_tokens,
                                            bool drop_needle);
  absl::StatusOr<ast::StmtPtr> ParseStatement();
  absl::StatusOr<ast::StmtPtr> ParseIf();
  absl::StatusOr<ast::StmtPtr> ParseFor();
  absl::StatusOr<ast::StmtPtr> ParseSet();
  absl::StatusOr<ast::StmtPtr> ParseMacro();
  absl::StatusOr<ast::StmtPtr> ParseCallBlock();
  absl::StatusOr<ast::StmtPtr> ParseFilterBlock();
  absl::StatusOr<ast::StmtPtr> ParseWith();
  absl::StatusOr<ast::StmtPtr> ParsePrint();
  absl::StatusOr<ast::StmtPtr> ParseLoopControl(ast::StmtKind kind);
  absl::StatusOr<ast::StmtPtr> ParseGeneration();
  absl::Status ParseSignature(ast::Stmt* node);
  absl::Status FailUnknownTag(const Token& token);
  absl::Status FailEof(const std::vector<std::string>& end_tokens);

  // --- expression levels (parser_expr.cc) ---
  absl::StatusOr<ast::ExprPtr> ParseCondExpr();
  absl::StatusOr<ast::ExprPtr> ParseOr();
  absl::StatusOr<ast::ExprPtr> ParseAnd();
  absl::StatusOr<ast::ExprPtr> ParseNot();
  absl::StatusOr<ast::ExprPtr> ParseCompare();
  absl::StatusOr<ast::ExprPtr> ParseMath1();
  absl::StatusOr<ast::ExprPtr> ParseConcat();
  absl::StatusOr<ast::ExprPtr> ParseMath2();
  absl::StatusOr<ast::ExprPtr> ParsePow();
  absl::StatusOr<ast::ExprPtr> ParseUnary(bool with_filter);
  absl::StatusOr<ast::ExprPtr> ParsePrimary(bool with_namespace = false);
  absl::StatusOr<ast::ExprPtr> ParseList();
  absl::StatusOr<ast::ExprPtr> ParseDict();
  absl::StatusOr<ast::ExprPtr> ParsePostfix(ast::ExprPtr node);
  absl::StatusOr<ast::ExprPtr> ParseFilterExpr(ast::ExprPtr node);
  absl::StatusOr<ast::ExprPtr> ParseSubscript(ast::ExprPtr node);
  absl::StatusOr<ast::ExprPtr> ParseSubscribed();
  // Parses "(args)" into `call`'s operands (after those already there) and keywords.
  absl::Status ParseCallArgs(ast::Expr* call);
  absl::StatusOr<ast::ExprPtr> ParseCall(ast::ExprPtr node);
  absl::StatusOr<ast::ExprPtr> ParseTest(ast::ExprPtr node);
  bool IsTupleEnd(const std::vector<std::string>& extra_end) const;

  struct OpenTag {
    std::string name;
    size_t offset;
  };

  const std::vector<Token>& tokens_;
  const SourceMap& map_;
  size_t pos_ = 0;
  std::vector<OpenTag> tag_stack_;
  std::vector<std::vector<std::string>> end_token_stack_;
  int loop_depth_ = 0;  // for-loop nesting inside the current macro (break/continue validity)
};

// Makes an expression node.
ast::ExprPtr MakeExpr(ast::ExprKind kind, size_t offset);

}  // namespace qwen::gateway::jinja

// Syntax tree of a parsed template. Nodes are plain structs owned by their parent; every node
// carries the byte offset of its first token so errors can name a line and column.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/chat_template/value.h"

namespace qwen::gateway::jinja::ast {

enum class ExprKind {
  kConst,    // constant
  kName,     // name
  kNsRef,    // name.attr as an assignment target ({% set ns.attr = ... %})
  kList,     // operands = items
  kTuple,    // operands = items
  kDict,     // operands = key0, value0, key1, value1, ...
  kGetAttr,  // operands[0].name
  kGetItem,  // operands[0][operands[1]]
  kSlice,    // operands = start, stop, step (each may be null); only inside kGetItem
  kCall,     // operands[0](operands[1:], keywords, *dyn_args, **dyn_kwargs)
  kFilter,   // operands[0] | name(operands[1:], keywords); operands[0] null in filter blocks
  kTest,     // operands[0] is name(operands[1:], keywords)
  kNot,      // not operands[0]
  kNeg,      // -operands[0]
  kPos,      // +operands[0]
  kBinary,   // operands[0] binary_op operands[1]
  kAnd,      // operands[0] and operands[1]
  kOr,       // operands[0] or operands[1]
  kConcat,   // operands joined with ~
  kCompare,  // operands[0] compare_ops[0] operands[1] compare_ops[1] operands[2] ...
  kCond,     // operands[1] if operands[0] else operands[2] (operands[2] may be null)
};

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow };
enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Keyword {
  std::string name;
  ExprPtr value;
};

struct Expr {
  ExprKind kind = ExprKind::kConst;
  size_t offset = 0;
  Value constant;     // kConst
  std::string name;   // kName/kNsRef variable, kGetAttr attribute, kFilter/kTest name
  std::string attr;   // kNsRef attribute
  BinaryOp binary_op = BinaryOp::kAdd;
  std::vector<CompareOp> compare_ops;
  std::vector<ExprPtr> operands;
  std::vector<Keyword> keywords;
  ExprPtr dyn_args;    // *args
  ExprPtr dyn_kwargs;  // **kwargs
};

enum class StmtKind {
  kData,         // text
  kOutput,       // {{ exprs[0] }} or {% print exprs[0] %}
  kIf,           // if exprs[0]: body else else_body (elif is a nested kIf in else_body)
  kFor,          // for exprs[0] in exprs[1] [if exprs[2]]: body else else_body
  kSet,          // set exprs[0] = exprs[1]
  kSetBlock,     // set exprs[0] [| exprs[1] filter chain] ... endset
  kMacro,        // macro text(params=defaults): body
  kCallBlock,    // call(params) exprs[0] (a kCall): body becomes `caller`
  kFilterBlock,  // filter exprs[0] (kFilter chain with a null innermost input): body
  kWith,         // with exprs[2i] = exprs[2i+1] ...: body
  kBreak,
  kContinue,
  kScope,        // body in place ({% generation %}, transformers' assistant-mask marker)
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  StmtKind kind = StmtKind::kData;
  size_t offset = 0;
  std::string text;  // kData text; kMacro name
  std::vector<ExprPtr> exprs;
  Body body;
  Body else_body;
  // kMacro and kCallBlock signatures; defaults belong to the last params.
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;
  // Whether the macro body refers to these (jinja2 only accepts extra arguments then).
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
};

}  // namespace qwen::gateway::jinja::ast

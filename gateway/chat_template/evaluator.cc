#include "gateway/chat_template/evaluator.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/chat_template/builtins.h"
#include "gateway/chat_template/ops.h"

namespace qwen::gateway::jinja {
namespace {

using ast::Expr;
using ast::ExprKind;
using ast::Stmt;
using ast::StmtKind;

// Macro nesting limit: deep enough for any real template, shallow enough for the C++ stack.
constexpr int kMaxCallDepth = 100;
// Marks an error message that already starts with a template position.
constexpr char kLocatedPayload[] = "qwen.jinja/located";

}  // namespace

const Value* Frame::Find(std::string_view name) const {
  for (const Frame* f = this; f != nullptr; f = f->parent_) {
    for (auto it = f->vars_.rbegin(); it != f->vars_.rend(); ++it) {
      if (it->first == name) return &it->second;
    }
  }
  return nullptr;
}

void Frame::Set(const std::string& name, Value value) {
  for (auto& [n, v] : vars_) {
    if (n == name) {
      v = std::move(value);
      return;
    }
  }
  vars_.emplace_back(name, std::move(value));
}

Interpreter::Interpreter(const SourceMap& map, const Dict& context)
    : map_(map), context_(context), globals_(MakeGlobals()) {}

Interpreter::~Interpreter() {
  // Namespaces and loop contexts may reference each other through stored values; clearing them
  // breaks any shared_ptr cycle a template built.
  for (const auto& ns : namespaces_) ns->attrs = Dict();
  for (const auto& loop : loops_) {
    loop->items.clear();
    loop->changed_value.clear();
  }
}

Frame* Interpreter::NewFrame(const Frame* parent) {
  frames_.emplace_back(parent);
  return &frames_.back();
}

Value Interpreter::NewNamespace() {
  auto ns = std::make_shared<Namespace>();
  namespaces_.push_back(ns);
  return Value::FromNamespace(std::move(ns));
}

absl::Status Interpreter::Locate(absl::Status status, size_t offset) const {
  if (status.ok() || IsRaisedException(status) || status.GetPayload(kLocatedPayload)) {
    return status;
  }
  absl::Status located(status.code(),
                       absl::StrCat(map_.Describe(offset), ": ", std::string(status.message())));
  located.SetPayload(kLocatedPayload, absl::Cord("1"));
  return located;
}

absl::Status Interpreter::Render(const ast::Body& body, std::string* out) {
  Frame* root = NewFrame(nullptr);
  absl::StatusOr<Flow> flow = ExecBody(body, root, out);
  return flow.status();
}

Value Interpreter::Lookup(const std::string& name, const Frame* frame) const {
  if (const Value* v = frame->Find(name)) return *v;
  if (const Value* v = context_.Find(name)) return *v;
  if (const Value* v = globals_.Find(name)) return *v;
  return Value::Undefined(absl::StrCat("'", name, "' is undefined"));
}

absl::StatusOr<Interpreter::Flow> Interpreter::ExecBody(const ast::Body& body, Frame* frame,
                                                        std::string* out) {
  for (const ast::StmtPtr& stmt : body) {
    absl::StatusOr<Flow> flow = Exec(*stmt, frame, out);
    if (!flow.ok()) return Locate(flow.status(), stmt->offset);
    if (*flow != Flow::kNormal) return *flow;
  }
  return Flow::kNormal;
}

absl::StatusOr<Interpreter::Flow> Interpreter::Exec(const Stmt& stmt, Frame* frame,
                                                    std::string* out) {
  switch (stmt.kind) {
    case StmtKind::kData:
      out->append(stmt.text);
      return Flow::kNormal;
    case StmtKind::kOutput:
      for (const ast::ExprPtr& e : stmt.exprs) {
        QWEN_ASSIGN_OR_RETURN(Value v, Eval(*e, frame));
        out->append(ToPyStr(v));
      }
      return Flow::kNormal;
    case StmtKind::kIf: {
      QWEN_ASSIGN_OR_RETURN(Value test, Eval(*stmt.exprs[0], frame));
      return ExecBody(IsTruthy(test) ? stmt.body : stmt.else_body, frame, out);
    }
    case StmtKind::kFor:
      return ExecFor(stmt, frame, out);
    case StmtKind::kSet: {
      QWEN_ASSIGN_OR_RETURN(Value v, Eval(*stmt.exprs[1], frame));
      QWEN_RETURN_IF_ERROR(Assign(*stmt.exprs[0], v, frame));
      return Flow::kNormal;
    }
    case StmtKind::kSetBlock:
    case StmtKind::kFilterBlock: {
      std::string captured;
      QWEN_RETURN_IF_ERROR(ExecBody(stmt.body, NewFrame(frame), &captured).status());
      Value v = Value::String(std::move(captured));
      const Expr* filter = stmt.kind == StmtKind::kSetBlock ? stmt.exprs[1].get()
                                                            : stmt.exprs[0].get();
      if (filter != nullptr) {
        // Apply the chain innermost first; its innermost input is the captured text.
        std::vector<const Expr*> chain;
        for (const Expr* f = filter; f != nullptr; f = f->operands[0].get()) chain.push_back(f);
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
          QWEN_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(**it, 1, frame));
          absl::StatusOr<Value> r = CallFilter(*this, (*it)->name, v, args);
          if (!r.ok()) return Locate(r.status(), (*it)->offset);
          v = std::move(*r);
        }
      }
      if (stmt.kind == StmtKind::kSetBlock) {
        QWEN_RETURN_IF_ERROR(Assign(*stmt.exprs[0], v, frame));
      } else {
        out->append(ToPyStr(v));
      }
      return Flow::kNormal;
    }
    case StmtKind::kMacro:
      frame->Set(stmt.text, MakeMacro(stmt, frame, stmt.text));
      return Flow::kNormal;
    case StmtKind::kCallBlock:
      QWEN_RETURN_IF_ERROR(ExecCallBlock(stmt, frame, out));
      return Flow::kNormal;
    case StmtKind::kWith: {
      Frame* inner = NewFrame(frame);
      for (size_t i = 0; i + 1 < stmt.exprs.size(); i += 2) {
        QWEN_ASSIGN_OR_RETURN(Value v, Eval(*stmt.exprs[i + 1], frame));
        QWEN_RETURN_IF_ERROR(Assign(*stmt.exprs[i], v, inner));
      }
      return ExecBody(stmt.body, inner, out);
    }
    case StmtKind::kBreak:
      return Flow::kBreak;
    case StmtKind::kContinue:
      return Flow::kContinue;
    case StmtKind::kScope:
      return ExecBody(stmt.body, frame, out);
  }
  return Flow::kNormal;
}

absl::StatusOr<Interpreter::Flow> Interpreter::ExecFor(const Stmt& stmt, Frame* frame,
                                                       std::string* out) {
  const Expr& target = *stmt.exprs[0];
  const Expr& iter = *stmt.exprs[1];
  const Expr* filter = stmt.exprs[2].get();
  QWEN_ASSIGN_OR_RETURN(Value iterable, Eval(iter, frame));
  absl::StatusOr<ValueList> items = Iterate(iterable);
  if (!items.ok()) return Locate(items.status(), iter.offset);
  auto loop = std::make_shared<LoopInfo>();
  loops_.push_back(loop);
  if (filter != nullptr) {
    for (Value& item : *items) {
      Frame* f = NewFrame(frame);
      QWEN_RETURN_IF_ERROR(Assign(target, item, f));
      QWEN_ASSIGN_OR_RETURN(Value keep, Eval(*filter, f));
      if (IsTruthy(keep)) loop->items.push_back(std::move(item));
    }
  } else {
    loop->items = std::move(*items);
  }
  const Value loop_value = Value::Loop(loop);
  for (size_t i = 0; i < loop->items.size(); ++i) {
    loop->index0 = i;
    Frame* f = NewFrame(frame);
    QWEN_RETURN_IF_ERROR(Assign(target, loop->items[i], f));
    f->Set("loop", loop_value);
    QWEN_ASSIGN_OR_RETURN(Flow flow, ExecBody(stmt.body, f, out));
    if (flow == Flow::kBreak) break;
  }
  if (loop->items.empty() && !stmt.else_body.empty()) {
    QWEN_RETURN_IF_ERROR(ExecBody(stmt.else_body, NewFrame(frame), out).status());
  }
  return Flow::kNormal;
}

absl::Status Interpreter::ExecCallBlock(const Stmt& stmt, Frame* frame, std::string* out) {
  const Expr& call = *stmt.exprs[0];
  QWEN_ASSIGN_OR_RETURN(Value callee, Eval(*call.operands[0], frame));
  QWEN_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(call, 1, frame));
  args.keyword.emplace_back("caller", MakeMacro(stmt, frame, "caller"));
  absl::StatusOr<Value> result = Call(callee, args);
  if (!result.ok()) return Locate(result.status(), call.offset);
  out->append(ToPyStr(*result));
  return absl::OkStatus();
}

Value Interpreter::MakeMacro(const Stmt& macro, Frame* frame, std::string name) {
  const Stmt* node = &macro;
  return Value::Function(
      name,
      [node, frame, name](Interpreter& interp, CallArgs& args) {
        return interp.CallMacro(*node, frame, name, args);
      },
      /*is_macro=*/true);
}

absl::StatusOr<Value> Interpreter::CallMacro(const Stmt& macro, Frame* definition_frame,
                                             const std::string& name, CallArgs& args) {
  const size_t n = macro.params.size();
  if (args.positional.size() > n && !macro.uses_varargs) {
    return absl::InvalidArgumentError(
        absl::StrCat("macro '", name, "' takes not more than ", n, " argument(s)"));
  }
  std::vector<std::optional<Value>> bound(n);
  for (size_t i = 0; i < n && i < args.positional.size(); ++i) bound[i] = args.positional[i];
  Dict extra_kwargs;
  Value caller = Value::Undefined("No caller defined");
  for (auto& [key, value] : args.keyword) {
    size_t index = n;
    for (size_t i = 0; i < n; ++i) {
      if (macro.params[i] == key) index = i;
    }
    if (index < n) {
      if (bound[index]) {
        return absl::InvalidArgumentError(
            absl::StrCat("macro '", name, "' got multiple values for argument '", key, "'"));
      }
      bound[index] = value;
    } else if (key == "caller" && macro.uses_caller) {
      caller = value;
    } else if (macro.uses_kwargs) {
      extra_kwargs.Set(Value::String(key), value);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("macro '", name, "' takes no keyword argument '", key, "'"));
    }
  }
  if (call_depth_ >= kMaxCallDepth) {
    return absl::InvalidArgumentError("maximum macro recursion depth exceeded");
  }
  Frame* f = NewFrame(definition_frame);
  const size_t first_default = n - macro.defaults.size();
  for (size_t i = 0; i < n; ++i) {
    if (bound[i]) {
      f->Set(macro.params[i], *bound[i]);
    } else if (i >= first_default) {
      QWEN_ASSIGN_OR_RETURN(Value v, Eval(*macro.defaults[i - first_default], f));
      f->Set(macro.params[i], std::move(v));
    } else {
      f->Set(macro.params[i],
             Value::Undefined(absl::StrCat("parameter '", macro.params[i], "' was not provided")));
    }
  }
  if (macro.uses_varargs) {
    ValueList rest;
    for (size_t i = n; i < args.positional.size(); ++i) rest.push_back(args.positional[i]);
    f->Set("varargs", Value::Tuple(std::move(rest)));
  }
  if (macro.uses_kwargs) f->Set("kwargs", Value::FromDict(std::move(extra_kwargs)));
  if (macro.uses_caller) f->Set("caller", caller);
  std::string rendered;
  ++call_depth_;
  absl::StatusOr<Flow> flow = ExecBody(macro.body, f, &rendered);
  --call_depth_;
  QWEN_RETURN_IF_ERROR(flow.status());
  return Value::String(std::move(rendered));
}

absl::StatusOr<Value> Interpreter::Call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) return UndefinedError(callee);
  if (!callee.is_callable()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", PyTypeName(callee), "' object is not callable"));
  }
  return callee.callable().fn(*this, args);
}

absl::Status Interpreter::Assign(const Expr& target, const Value& value, Frame* frame) {
  switch (target.kind) {
    case ExprKind::kName:
      frame->Set(target.name, value);
      return absl::OkStatus();
    case ExprKind::kNsRef: {
      const Value ns = Lookup(target.name, frame);
      if (!ns.is_namespace()) {
        return Locate(absl::InvalidArgumentError("cannot assign attribute on non-namespace object"),
                      target.offset);
      }
      ns.ns().attrs.Set(Value::String(target.attr), value);
      return absl::OkStatus();
    }
    case ExprKind::kTuple: {
      absl::StatusOr<ValueList> items = Iterate(value);
      if (!items.ok()) {
        return Locate(absl::InvalidArgumentError(absl::StrCat(
                          "cannot unpack non-iterable ", PyTypeName(value), " object")),
                      target.offset);
      }
      const size_t want = target.operands.size();
      if (items->size() != want) {
        return Locate(absl::InvalidArgumentError(
                          items->size() > want
                              ? absl::StrCat("too many values to unpack (expected ", want, ")")
                              : absl::StrCat("not enough values to unpack (expected ", want,
                                             ", got ", items->size(), ")")),
                      target.offset);
      }
      for (size_t i = 0; i < want; ++i) {
        QWEN_RETURN_IF_ERROR(Assign(*target.operands[i], (*items)[i], frame));
      }
      return absl::OkStatus();
    }
    default:
      return Locate(absl::InvalidArgumentError("cannot assign to this expression"), target.offset);
  }
}

absl::StatusOr<CallArgs> Interpreter::EvalArgs(const Expr& expr, size_t first, Frame* frame) {
  CallArgs args;
  for (size_t i = first; i < expr.operands.size(); ++i) {
    QWEN_ASSIGN_OR_RETURN(Value v, Eval(*expr.operands[i], frame));
    args.positional.push_back(std::move(v));
  }
  for (const ast::Keyword& k : expr.keywords) {
    QWEN_ASSIGN_OR_RETURN(Value v, Eval(*k.value, frame));
    args.keyword.emplace_back(k.name, std::move(v));
  }
  if (expr.dyn_args != nullptr) {
    QWEN_ASSIGN_OR_RETURN(Value v, Eval(*expr.dyn_args, frame));
    absl::StatusOr<ValueList> items = Iterate(v);
    if (!items.ok()) return Locate(items.status(), expr.dyn_args->offset);
    for (Value& item : *items) args.positional.push_back(std::move(item));
  }
  if (expr.dyn_kwargs != nullptr) {
    QWEN_ASSIGN_OR_RETURN(Value v, Eval(*expr.dyn_kwargs, frame));
    if (!v.is_dict()) {
      return Locate(absl::InvalidArgumentError("argument after ** must be a mapping"),
                    expr.dyn_kwargs->offset);
    }
    for (const auto& [key, value] : v.dict().items()) {
      if (!key.is_string()) {
        return Locate(absl::InvalidArgumentError("keywords must be strings"),
                      expr.dyn_kwargs->offset);
      }
      args.keyword.emplace_back(key.str(), value);
    }
  }
  return args;
}

absl::StatusOr<Value> Interpreter::Eval(const Expr& expr, Frame* frame) {
  absl::StatusOr<Value> result = EvalImpl(expr, frame);
  if (!result.ok()) return Locate(result.status(), expr.offset);
  return result;
}

absl::StatusOr<Value> Interpreter::EvalImpl(const Expr& expr, Frame* frame) {
  switch (expr.kind) {
    case ExprKind::kConst:
      return expr.constant;
    case ExprKind::kName:
      return Lookup(expr.name, frame);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      ValueList items;
      for (const ast::ExprPtr& e : expr.operands) {
        QWEN_ASSIGN_OR_RETURN(Value v, Eval(*e, frame));
        items.push_back(std::move(v));
      }
      return expr.kind == ExprKind::kList ? Value::List(std::move(items))
                                          : Value::Tuple(std::move(items));
    }
    case ExprKind::kDict: {
      Dict dict;
      for (size_t i = 0; i + 1 < expr.operands.size(); i += 2) {
        QWEN_ASSIGN_OR_RETURN(Value key, Eval(*expr.operands[i], frame));
        QWEN_ASSIGN_OR_RETURN(Value value, Eval(*expr.operands[i + 1], frame));
        if (!IsHashable(key)) {
          return absl::InvalidArgumentError(
              absl::StrCat("unhashable type: '", PyTypeName(key), "'"));
        }
        dict.Set(std::move(key), std::move(value));
      }
      return Value::FromDict(std::move(dict));
    }
    case ExprKind::kGetAttr: {
      QWEN_ASSIGN_OR_RETURN(Value obj, Eval(*expr.operands[0], frame));
      if (obj.is_undefined()) return UndefinedError(obj);
      return GetAttribute(obj, expr.name);
    }
    case ExprKind::kGetItem: {
      QWEN_ASSIGN_OR_RETURN(Value obj, Eval(*expr.operands[0], frame));
      const Expr& key = *expr.operands[1];
      if (key.kind == ExprKind::kSlice) {
        Value bounds[3] = {Value::None(), Value::None(), Value::None()};
        for (int i = 0; i < 3; ++i) {
          if (key.operands[i] != nullptr) {
            QWEN_ASSIGN_OR_RETURN(bounds[i], Eval(*key.operands[i], frame));
          }
        }
        return SliceValue(obj, bounds[0], bounds[1], bounds[2]);
      }
      QWEN_ASSIGN_OR_RETURN(Value k, Eval(key, frame));
      return GetItem(obj, k);
    }
    case ExprKind::kCall: {
      QWEN_ASSIGN_OR_RETURN(Value callee, Eval(*expr.operands[0], frame));
      QWEN_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(expr, 1, frame));
      return Call(callee, args);
    }
    case ExprKind::kFilter: {
      QWEN_ASSIGN_OR_RETURN(Value input, Eval(*expr.operands[0], frame));
      QWEN_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(expr, 1, frame));
      return CallFilter(*this, expr.name, input, args);
    }
    case ExprKind::kTest: {
      QWEN_ASSIGN_OR_RETURN(Value input, Eval(*expr.operands[0], frame));
      QWEN_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(expr, 1, frame));
      QWEN_ASSIGN_OR_RETURN(bool result, CallTest(*this, expr.name, input, args));
      return Value::Bool(result);
    }
    case ExprKind::kNot: {
      QWEN_ASSIGN_OR_RETURN(Value v, Eval(*expr.operands[0], frame));
      return Value::Bool(!IsTruthy(v));
    }
    case ExprKind::kNeg:
    case ExprKind::kPos: {
      QWEN_ASSIGN_OR_RETURN(Value v, Eval(*expr.operands[0], frame));
      return UnaryOperation(v, expr.kind == ExprKind::kNeg);
    }
    case ExprKind::kBinary: {
      QWEN_ASSIGN_OR_RETURN(Value a, Eval(*expr.operands[0], frame));
      QWEN_ASSIGN_OR_RETURN(Value b, Eval(*expr.operands[1], frame));
      return BinaryOperation(expr.binary_op, a, b);
    }
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      QWEN_ASSIGN_OR_RETURN(Value a, Eval(*expr.operands[0], frame));
      if (IsTruthy(a) == (expr.kind == ExprKind::kOr)) return a;
      return Eval(*expr.operands[1], frame);
    }
    case ExprKind::kConcat: {
      std::string out;
      for (const ast::ExprPtr& e : expr.operands) {
        QWEN_ASSIGN_OR_RETURN(Value v, Eval(*e, frame));
        out += ToPyStr(v);
      }
      return Value::String(std::move(out));
    }
    case ExprKind::kCompare: {
      QWEN_ASSIGN_OR_RETURN(Value left, Eval(*expr.operands[0], frame));
      for (size_t i = 0; i < expr.compare_ops.size(); ++i) {
        QWEN_ASSIGN_OR_RETURN(Value right, Eval(*expr.operands[i + 1], frame));
        QWEN_ASSIGN_OR_RETURN(bool ok, CompareOperation(expr.compare_ops[i], left, right));
        if (!ok) return Value::Bool(false);
        left = std::move(right);
      }
      return Value::Bool(true);
    }
    case ExprKind::kCond: {
      QWEN_ASSIGN_OR_RETURN(Value test, Eval(*expr.operands[0], frame));
      if (IsTruthy(test)) return Eval(*expr.operands[1], frame);
      if (expr.operands[2] != nullptr) return Eval(*expr.operands[2], frame);
      return Value::Undefined(absl::StrCat("the inline if-expression on line ",
                                           map_.Line(expr.offset),
                                           " evaluated to false and no else section was defined."));
    }
    case ExprKind::kNsRef:
    case ExprKind::kSlice:
      return absl::InvalidArgumentError("invalid expression");
  }
  return absl::InvalidArgumentError("invalid expression");
}

}  // namespace qwen::gateway::jinja

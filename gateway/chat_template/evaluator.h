// Tree-walking interpreter for one render of a parsed template.
//
// Scoping follows jinja2: a for-loop iteration, a macro call and a with-block get their own
// frame (so `set` inside them does not leak out), `if` does not; lookups walk the frame chain,
// then the render context, then the globals. Macros see the frame they were defined in (lexical
// scope), read at call time. Frames live until the render ends, so macros never outlive them.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/chat_template/ast.h"
#include "gateway/chat_template/lexer.h"
#include "gateway/chat_template/value.h"

namespace qwen::gateway::jinja {

class Frame {
 public:
  explicit Frame(const Frame* parent) : parent_(parent) {}
  // The innermost binding of `name`, or null.
  const Value* Find(std::string_view name) const;
  void Set(const std::string& name, Value value);

 private:
  std::vector<std::pair<std::string, Value>> vars_;
  const Frame* parent_;
};

class Interpreter {
 public:
  // `context` holds the render variables; both must outlive the interpreter.
  Interpreter(const SourceMap& map, const Dict& context);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `body`, appending to `out`. Errors carry "line L, column C: " of the failing node,
  // except raise_exception's, which keep the template's message verbatim.
  absl::Status Render(const ast::Body& body, std::string* out);

  // Calls a callable value (function, bound method or macro); errors for anything else.
  absl::StatusOr<Value> Call(const Value& callee, CallArgs& args);
  // Creates a namespace that is released when the render ends (breaks reference cycles).
  Value NewNamespace();

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  absl::StatusOr<Flow> ExecBody(const ast::Body& body, Frame* frame, std::string* out);
  absl::StatusOr<Flow> Exec(const ast::Stmt& stmt, Frame* frame, std::string* out);
  absl::StatusOr<Flow> ExecFor(const ast::Stmt& stmt, Frame* frame, std::string* out);
  absl::Status ExecCallBlock(const ast::Stmt& stmt, Frame* frame, std::string* out);
  absl::StatusOr<Value> Eval(const ast::Expr& expr, Frame* frame);
  absl::StatusOr<Value> EvalImpl(const ast::Expr& expr, Frame* frame);
  // Evaluates operands[first..] as positional arguments plus keywords and *args/**kwargs.
  absl::StatusOr<CallArgs> EvalArgs(const ast::Expr& expr, size_t first, Frame* frame);
  absl::Status Assign(const ast::Expr& target, const Value& value, Frame* frame);
  Value Lookup(const std::string& name, const Frame* frame) const;
  // Makes the callable for a macro (or a call block's `caller`) defined in `frame`.
  Value MakeMacro(const ast::Stmt& macro, Frame* frame, std::string name);
  absl::StatusOr<Value> CallMacro(const ast::Stmt& macro, Frame* definition_frame,
                                  const std::string& name, CallArgs& args);
  Frame* NewFrame(const Frame* parent);
  // Adds the node's position to errors that do not have one yet.
  absl::Status Locate(absl::Status status, size_t offset) const;

  const SourceMap& map_;
  const Dict& context_;
  Dict globals_;
  std::deque<Frame> frames_;
  std::vector<std::shared_ptr<Namespace>> namespaces_;
  std::vector<std::shared_ptr<LoopInfo>> loops_;
  int call_depth_ = 0;
};

}  // namespace qwen::gateway::jinja

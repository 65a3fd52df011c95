#include "gateway/chat_template/template.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/chat_template/ast.h"
#include "gateway/chat_template/evaluator.h"
#include "gateway/chat_template/lexer.h"
#include "gateway/chat_template/parser.h"
#include "gateway/chat_template/py_text.h"
#include "gateway/chat_template/value.h"

namespace qwen::gateway::jinja {

struct Template::Impl {
  explicit Impl(std::string normalized) : source(std::move(normalized)), map(source) {}
  const std::string source;  // normalized; `map` and token offsets refer to it
  const SourceMap map;
  ast::Body body;
};

absl::StatusOr<Template> Template::Parse(std::string_view source) {
  if (!IsValidUtf8(source)) return absl::InvalidArgumentError("template is not valid UTF-8");
  auto impl = std::make_shared<Impl>(NormalizeSource(source));
  QWEN_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(impl->source, impl->map));
  QWEN_ASSIGN_OR_RETURN(impl->body, ParseTemplate(tokens, impl->map));
  return Template(std::move(impl));
}

absl::StatusOr<std::string> Template::Render(const nlohmann::ordered_json& context) const {
  if (!context.is_object()) return absl::InvalidArgumentError("render context must be a JSON object");
  const Value value = FromJson(context);
  return RenderDict(value.dict());
}

absl::StatusOr<std::string> Template::RenderDict(const Dict& context) const {
  std::string out;
  Interpreter interpreter(impl_->map, context);
  QWEN_RETURN_IF_ERROR(interpreter.Render(impl_->body, &out));
  return out;
}

}  // namespace qwen::gateway::jinja

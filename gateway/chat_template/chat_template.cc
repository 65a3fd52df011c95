#include "gateway/chat_template/chat_template.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace qwen::gateway {
namespace {

// Parses a tool call's JSON-string arguments in place. `where` names the field for errors.
absl::Status ParseArguments(nlohmann::ordered_json* holder, const std::string& where) {
  auto it = holder->find("arguments");
  if (it == holder->end() || !it->is_string()) return absl::OkStatus();
  nlohmann::ordered_json parsed =
      nlohmann::ordered_json::parse(it->get<std::string>(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is not valid JSON"));
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " must be a JSON object"));
  }
  *it = std::move(parsed);
  return absl::OkStatus();
}

absl::Status WithPrefix(const absl::Status& status, absl::StatusCode code) {
  return absl::Status(code, absl::StrCat("chat template ", std::string(status.message())));
}

}  // namespace

absl::StatusOr<nlohmann::ordered_json> PrepareChatTemplateContext(
    const nlohmann::ordered_json& request) {
  if (!request.is_object()) return absl::InvalidArgumentError("request must be a JSON object");
  auto messages_it = request.find("messages");
  if (messages_it == request.end() || !messages_it->is_array()) {
    return absl::InvalidArgumentError("request.messages must be an array");
  }
  nlohmann::ordered_json context = request;
  nlohmann::ordered_json& messages = context["messages"];
  for (size_t i = 0; i < messages.size(); ++i) {
    nlohmann::ordered_json& message = messages[i];
    if (!message.is_object()) continue;
    auto calls = message.find("tool_calls");
    if (calls == message.end() || !calls->is_array()) continue;
    for (size_t j = 0; j < calls->size(); ++j) {
      nlohmann::ordered_json& call = (*calls)[j];
      if (!call.is_object()) continue;
      const std::string where = absl::StrCat("messages[", i, "].tool_calls[", j, "]");
      auto function = call.find("function");
      if (function != call.end() && function->is_object()) {
        QWEN_RETURN_IF_ERROR(ParseArguments(&*function, where + ".function.arguments"));
      } else {
        QWEN_RETURN_IF_ERROR(ParseArguments(&call, where + ".arguments"));
      }
    }
  }
  // transformers always passes these to the template.
  if (!context.contains("tools")) context["tools"] = nullptr;
  if (!context.contains("documents")) context["documents"] = nullptr;
  if (!context.contains("add_generation_prompt")) context["add_generation_prompt"] = false;
  return context;
}

absl::StatusOr<ChatTemplate> ChatTemplate::Create(std::string_view source) {
  absl::StatusOr<jinja::Template> parsed = jinja::Template::Parse(source);
  if (!parsed.ok()) {
    return WithPrefix(parsed.status(), absl::StatusCode::kFailedPrecondition);
  }
  return ChatTemplate(std::move(*parsed));
}

absl::StatusOr<std::string> ChatTemplate::Render(const nlohmann::ordered_json& request) const {
  QWEN_ASSIGN_OR_RETURN(nlohmann::ordered_json context, PrepareChatTemplateContext(request));
  absl::StatusOr<std::string> rendered = template_.Render(context);
  if (rendered.ok() || jinja::IsRaisedException(rendered.status())) return rendered;
  return WithPrefix(rendered.status(), absl::StatusCode::kInvalidArgument);
}

absl::StatusOr<std::string> RenderChatTemplate(std::string_view template_source,
                                               const nlohmann::ordered_json& request) {
  QWEN_ASSIGN_OR_RETURN(ChatTemplate tmpl, ChatTemplate::Create(template_source));
  return tmpl.Render(request);
}

bool IsChatTemplateException(const absl::Status& status) {
  return jinja::IsRaisedException(status);
}

}  // namespace qwen::gateway

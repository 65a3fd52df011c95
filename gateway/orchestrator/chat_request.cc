#include "gateway/orchestrator/chat_request.h"

#include "absl/strings/str_cat.h"
#include "gateway/output/tool_schema.h"

namespace qwen::gateway {
namespace {

namespace pb = qwen35::v1;
using nlohmann::ordered_json;

bool KnownRole(const std::string& role) {
  return role == "system" || role == "user" || role == "assistant" || role == "tool";
}

// Parses JSON text without exceptions escaping; the error names `what`.
absl::StatusOr<ordered_json> ParseJson(const std::string& text, const std::string& what) {
  ordered_json value = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(what, " is not valid JSON"));
  return value;
}

absl::StatusOr<ordered_json> ConvertToolCall(const pb::ToolCall& call, const std::string& where) {
  if (call.name().empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".name is empty"));
  ordered_json arguments = ordered_json::object();
  if (!call.arguments_json().empty()) {
    absl::StatusOr<ordered_json> parsed = ParseJson(call.arguments_json(), absl::StrCat(where, ".arguments_json"));
    if (!parsed.ok()) return parsed.status();
    if (!parsed->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".arguments_json must be a JSON object, got ",
                                                     parsed->type_name()));
    }
    arguments = std::move(*parsed);
  }
  ordered_json out = ordered_json::object();
  if (!call.id().empty()) out["id"] = call.id();
  out["type"] = "function";
  out["function"] = {{"name", call.name()}, {"arguments", std::move(arguments)}};
  return out;
}

}  // namespace

std::string MediaInput::Where() const { return absl::StrCat("messages[", message_index, "].content[", part_index, "]"); }

const char* MediaInput::KindName() const { return modality == pb::MODALITY_VIDEO ? "video" : "image"; }

absl::StatusOr<PreparedChat> PrepareChat(const pb::ChatRequest& request, const RequestLimits& limits) {
  if (request.messages().empty()) return absl::InvalidArgumentError("messages is empty");
  if (request.messages_size() > limits.max_messages) {
    return absl::InvalidArgumentError(
        absl::StrCat("messages has ", request.messages_size(), " entries; the limit is ", limits.max_messages));
  }
  if (request.stop_size() > limits.max_stop_strings) {
    return absl::InvalidArgumentError(
        absl::StrCat("stop has ", request.stop_size(), " strings; the limit is ", limits.max_stop_strings));
  }
  for (int k = 0; k < request.stop_size(); ++k) {
    if (request.stop(k).empty()) return absl::InvalidArgumentError(absl::StrCat("stop[", k, "] is empty"));
  }

  PreparedChat out;
  ordered_json messages = ordered_json::array();
  for (int i = 0; i < request.messages_size(); ++i) {
    const pb::ChatMessage& m = request.messages(i);
    const std::string where = absl::StrCat("messages[", i, "]");
    if (!KnownRole(m.role())) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".role \"", m.role(),
                                                     "\" is not one of system, user, assistant, tool"));
    }
    ordered_json msg = ordered_json::object();
    msg["role"] = m.role();
    const bool single_text = m.content_size() == 1 && m.content(0).has_text();
    ordered_json parts = ordered_json::array();
    for (int j = 0; j < m.content_size(); ++j) {
      const pb::ContentPart& part = m.content(j);
      const std::string part_where = absl::StrCat(where, ".content[", j, "]");
      switch (part.part_case()) {
        case pb::ContentPart::kText:
          parts.push_back({{"type", "text"}, {"text", part.text()}});
          break;
        case pb::ContentPart::kImage:
        case pb::ContentPart::kVideo: {
          const bool image = part.part_case() == pb::ContentPart::kImage;
          const std::string& data = image ? part.image().data() : part.video().data();
          if (data.empty()) {
            return absl::InvalidArgumentError(absl::StrCat(part_where, " has an ", image ? "image" : "video",
                                                           " with empty data"));
          }
          out.media.push_back(MediaInput{.modality = image ? pb::MODALITY_IMAGE : pb::MODALITY_VIDEO,
                                         .message_index = i,
                                         .part_index = j,
                                         .data = &data});
          (image ? out.num_images : out.num_videos)++;
          parts.push_back({{"type", image ? "image" : "video"}});
          break;
        }
        default:
          return absl::InvalidArgumentError(absl::StrCat(part_where, " is empty: set text, image or video"));
      }
    }
    if (single_text) {
      msg["content"] = m.content(0).text();
    } else if (parts.empty()) {
      msg["content"] = "";
    } else {
      msg["content"] = std::move(parts);
    }
    if (!m.reasoning_content().empty()) {
      if (m.role() != "assistant") {
        return absl::InvalidArgumentError(absl::StrCat(where, ".reasoning_content is only allowed on assistant messages"));
      }
      msg["reasoning_content"] = m.reasoning_content();
    }
    if (m.tool_calls_size() > 0) {
      if (m.role() != "assistant") {
        return absl::InvalidArgumentError(absl::StrCat(where, ".tool_calls is only allowed on assistant messages"));
      }
      ordered_json calls = ordered_json::array();
      for (int k = 0; k < m.tool_calls_size(); ++k) {
        absl::StatusOr<ordered_json> call = ConvertToolCall(m.tool_calls(k), absl::StrCat(where, ".tool_calls[", k, "]"));
        if (!call.ok()) return call.status();
        calls.push_back(std::move(*call));
      }
      msg["tool_calls"] = std::move(calls);
    }
    if (!m.tool_call_id().empty()) msg["tool_call_id"] = m.tool_call_id();
    if (!m.name().empty()) msg["name"] = m.name();
    messages.push_back(std::move(msg));
  }
  if (out.num_images > limits.max_images) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request has ", out.num_images, " images; the limit is ", limits.max_images));
  }
  if (out.num_videos > limits.max_videos) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request has ", out.num_videos, " videos; the limit is ", limits.max_videos));
  }

  out.template_request["messages"] = std::move(messages);
  if (!request.tools_json().empty()) {
    absl::StatusOr<ordered_json> tools = ParseJson(request.tools_json(), "tools_json");
    if (!tools.ok()) return tools.status();
    if (!tools->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat("tools_json must be a JSON array, got ", tools->type_name()));
    }
    // The parser's view of the tools (plain json) is validated now, before any work is done.
    nlohmann::json plain = nlohmann::json::parse(request.tools_json(), nullptr, /*allow_exceptions=*/false);
    absl::StatusOr<ToolSchemas> schemas = ToolSchemas::Create(plain);
    if (!schemas.ok()) return absl::InvalidArgumentError(absl::StrCat("tools_json: ", schemas.status().message()));
    if (!tools->empty()) {
      out.template_request["tools"] = std::move(*tools);
      out.tools = std::move(plain);
    }
  }
  out.template_request["add_generation_prompt"] = true;
  if (request.has_enable_thinking()) {
    out.template_request["enable_thinking"] = request.enable_thinking();
    out.thinking_enabled = request.enable_thinking();
  }
  return out;
}

}  // namespace qwen::gateway

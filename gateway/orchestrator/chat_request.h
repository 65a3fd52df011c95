// qwen35.v1.ChatRequest -> the OpenAI-style request the chat template renders, plus the media
// items in prompt order. Pure validation and conversion: every error is InvalidArgument naming
// the field (messages[i].role, messages[i].content[j], messages[i].tool_calls[k], tools_json, ...).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "qwen35/v1/gateway.pb.h"

namespace qwen::gateway {

struct RequestLimits {
  int max_messages = 512;
  int max_images = 16;  // per request
  int max_videos = 2;   // per request
  int max_stop_strings = 16;
};

// One image or video part, in the order the template renders its placeholder.
struct MediaInput {
  qwen35::v1::Modality modality = qwen35::v1::MODALITY_UNSPECIFIED;
  int message_index = 0;
  int part_index = 0;
  const std::string* data = nullptr;  // points into the request, which outlives the pipeline run

  // "messages[i].content[j]", the name used in every error about this part.
  std::string Where() const;
  const char* KindName() const;  // "image" / "video"
};

struct PreparedChat {
  // {"messages": [...], "tools": [...]?, "add_generation_prompt": true, "enable_thinking": b?}
  nlohmann::ordered_json template_request;
  std::vector<MediaInput> media;
  std::optional<nlohmann::json> tools;  // for the tool-call parser
  bool thinking_enabled = true;         // the template opens <think> unless enable_thinking == false
  int num_images = 0;
  int num_videos = 0;
};

// Validates and converts. Messages: role in {system, user, assistant, tool}; every content part
// holds text, an image or a video with non-empty data; tool_calls only on assistant messages, each
// with a name and arguments_json that is a JSON object (parsed into an object, as the template's
// `arguments|items` needs). A message whose parts are one text becomes a string content, any
// other a list of {"type": "text", "text"}, {"type": "image"}, {"type": "video"} items.
absl::StatusOr<PreparedChat> PrepareChat(const qwen35::v1::ChatRequest& request, const RequestLimits& limits);

}  // namespace qwen::gateway

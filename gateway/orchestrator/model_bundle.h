// What the gateway loads from a checkpoint directory: the tokenizer, the chat template and the
// token ids / merge size of config.json. Immutable after Load(), shared by every request.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "gateway/chat_template/chat_template.h"
#include "gateway/tokenizer/tokenizer.h"
#include "qwen35/v1/text.pb.h"
#include "text_service/model/mrope_positions.h"

namespace qwen::gateway {

class ModelBundle {
 public:
  // Reads `dir`/tokenizer.json (+ tokenizer_config.json when present), chat_template.jinja and
  // config.json. NotFound / InvalidArgument / FailedPrecondition name the file at fault; the
  // placeholder ids of config.json must be the tokenizer's <|image_pad|>, <|video_pad|>,
  // <|vision_start|> and <|vision_end|>, or the prompts would silently misplace the media.
  static absl::StatusOr<std::unique_ptr<ModelBundle>> Load(const std::filesystem::path& dir);
  // The same from parts already in memory (tests).
  static absl::StatusOr<std::unique_ptr<ModelBundle>> Create(Tokenizer tokenizer, ChatTemplate chat_template,
                                                             core::ModelConfig config, std::string model_id);

  const Tokenizer& tokenizer() const { return tokenizer_; }
  const ChatTemplate& chat_template() const { return chat_template_; }
  const core::ModelConfig& config() const { return config_; }
  const text::PlaceholderTokens& placeholders() const { return placeholders_; }
  int64_t spatial_merge_size() const { return spatial_merge_size_; }
  int64_t hidden_size() const { return config_.text.hidden_size; }
  const std::string& model_id() const { return model_id_; }

 private:
  ModelBundle(Tokenizer tokenizer, ChatTemplate chat_template, core::ModelConfig config, std::string model_id);

  Tokenizer tokenizer_;
  ChatTemplate chat_template_;
  core::ModelConfig config_;
  text::PlaceholderTokens placeholders_;
  int64_t spatial_merge_size_;
  std::string model_id_;
};

// A text replica serves the same model as the local bundle: vocabulary size, hidden size and the
// placeholder ids agree. FailedPrecondition listing every mismatch otherwise (the gateway then
// refuses to become ready: embeddings or token ids would be misread).
absl::Status CheckTextModelInfo(const qwen35::v1::TextModelInfo& info, const ModelBundle& bundle);

}  // namespace qwen::gateway

#include "gateway/orchestrator/model_bundle.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"

namespace qwen::gateway {
namespace {

absl::StatusOr<std::string> ReadText(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  std::ostringstream text;
  text << f.rdbuf();
  return text.str();
}

// The placeholder ids the processor and the model agree on must name these tokens.
absl::Status CheckTokenSpelling(const Tokenizer& tokenizer, int64_t id, const char* want, const char* field) {
  std::optional<std::string> got = tokenizer.IdToToken(static_cast<int32_t>(id));
  if (!got.has_value() || *got != want) {
    return absl::FailedPreconditionError(absl::StrCat("config.json ", field, " = ", id, " is ",
                                                      got.has_value() ? absl::StrCat("\"", *got, "\"") : "no token",
                                                      " in tokenizer.json, expected ", want));
  }
  return absl::OkStatus();
}

}  // namespace

ModelBundle::ModelBundle(Tokenizer tokenizer, ChatTemplate chat_template, core::ModelConfig config,
                         std::string model_id)
    : tokenizer_(std::move(tokenizer)),
      chat_template_(std::move(chat_template)),
      config_(std::move(config)),
      placeholders_(text::PlaceholderTokens::FromConfig(config_)),
      spatial_merge_size_(config_.vision.has_value() ? config_.vision->spatial_merge_size : 2),
      model_id_(std::move(model_id)) {}

absl::StatusOr<std::unique_ptr<ModelBundle>> ModelBundle::Load(const std::filesystem::path& dir) {
  QWEN_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::FromFile((dir / "tokenizer.json").string()));
  QWEN_ASSIGN_OR_RETURN(std::string source, ReadText(dir / "chat_template.jinja"));
  absl::StatusOr<ChatTemplate> chat_template = ChatTemplate::Create(source);
  if (!chat_template.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat((dir / "chat_template.jinja").string(), ": ", chat_template.status().message()));
  }
  QWEN_ASSIGN_OR_RETURN(core::ModelConfig config, core::LoadModelConfig(dir));
  std::string model_id = std::filesystem::path(dir).lexically_normal().filename().string();
  if (model_id.empty()) model_id = std::filesystem::path(dir).lexically_normal().parent_path().filename().string();
  return Create(std::move(tokenizer), std::move(*chat_template), std::move(config), std::move(model_id));
}

absl::StatusOr<std::unique_ptr<ModelBundle>> ModelBundle::Create(Tokenizer tokenizer, ChatTemplate chat_template,
                                                                 core::ModelConfig config, std::string model_id) {
  if (tokenizer.id_limit() > config.text.vocab_size) {
    return absl::FailedPreconditionError(absl::StrCat("tokenizer.json has ids up to ", tokenizer.id_limit() - 1,
                                                      " but config.json vocab_size is ", config.text.vocab_size));
  }
  QWEN_RETURN_IF_ERROR(CheckTokenSpelling(tokenizer, config.image_token_id, "<|image_pad|>", "image_token_id"));
  QWEN_RETURN_IF_ERROR(CheckTokenSpelling(tokenizer, config.video_token_id, "<|video_pad|>", "video_token_id"));
  QWEN_RETURN_IF_ERROR(
      CheckTokenSpelling(tokenizer, config.vision_start_token_id, "<|vision_start|>", "vision_start_token_id"));
  QWEN_RETURN_IF_ERROR(
      CheckTokenSpelling(tokenizer, config.vision_end_token_id, "<|vision_end|>", "vision_end_token_id"));
  return std::unique_ptr<ModelBundle>(
      new ModelBundle(std::move(tokenizer), std::move(chat_template), std::move(config), std::move(model_id)));
}

absl::Status CheckTextModelInfo(const qwen35::v1::TextModelInfo& info, const ModelBundle& bundle) {
  const core::ModelConfig& c = bundle.config();
  std::vector<std::string> mismatches;
  auto expect = [&mismatches](const char* field, int64_t replica, int64_t local) {
    if (replica != local) mismatches.push_back(absl::StrCat(field, " ", replica, " != ", local));
  };
  expect("vocab_size", info.vocab_size(), c.text.vocab_size);
  expect("hidden_size", info.hidden_size(), c.text.hidden_size);
  expect("image_token_id", info.image_token_id(), c.image_token_id);
  expect("video_token_id", info.video_token_id(), c.video_token_id);
  expect("vision_start_token_id", info.vision_start_token_id(), c.vision_start_token_id);
  expect("vision_end_token_id", info.vision_end_token_id(), c.vision_end_token_id);
  if (mismatches.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("text replica model \"", info.model_id(),
                                                    "\" does not match the gateway's config.json (replica != local): ",
                                                    absl::StrJoin(mismatches, ", ")));
}

}  // namespace qwen::gateway

// A small Qwen3.5 checkpoint with random weights in the real Hugging Face format (config.json with
// text_config + vision_config, generation_config.json, bf16 model.safetensors, the real vocab size),
// so the whole stack can run end to end on a machine without downloaded weights.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "absl/status/status.h"

namespace qwen::tools {

struct DemoCheckpointOptions {
  uint64_t seed = 0;
  int64_t hidden_size = 256;
  int64_t num_layers = 8;  // [linear x3, full] repeated
  int64_t vocab_size = 248320;
  // Special token ids written into config.json / generation_config.json; they must lie inside the
  // vocabulary (match them to the tokenizer the checkpoint is used with).
  int64_t image_token_id = 248056;
  int64_t video_token_id = 248057;
  int64_t vision_start_token_id = 248053;
  int64_t vision_end_token_id = 248054;
  std::vector<int64_t> eos_token_ids = {248046, 248044};
  int64_t pad_token_id = 248044;
  // Untied by default: a random tied head mostly predicts the input token again, which makes the
  // demo's output a run of one token; an untied random head gives varied (meaningless) text.
  bool tie_word_embeddings = false;
};

// Writes config.json, generation_config.json and model.safetensors into `dir` (created if needed).
// Deterministic for a given seed.
absl::Status WriteDemoCheckpoint(const std::filesystem::path& dir, const DemoCheckpointOptions& options);

}  // namespace qwen::tools

// A small Qwen3.5 checkpoint with random weights in the real Hugging Face format (config.json with
// text_config + vision_config, generation_config.json, bf16 model.safetensors, the real vocab size),
// so the whole stack can run end to end on a machine without downloaded weights.
#pragma once

#include <cstdint>
#include <filesystem>

#include "absl/status/status.h"

namespace qwen::tools {

struct DemoCheckpointOptions {
  uint64_t seed = 0;
  int64_t hidden_size = 256;
  int64_t num_layers = 8;  // [linear x3, full] repeated
  int64_t vocab_size = 248320;
};

// Writes config.json, generation_config.json and model.safetensors into `dir` (created if needed).
// Deterministic for a given seed.
absl::Status WriteDemoCheckpoint(const std::filesystem::path& dir, const DemoCheckpointOptions& options);

}  // namespace qwen::tools

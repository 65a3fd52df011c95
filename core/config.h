// Typed model configuration parsed from Hugging Face config.json / generation_config.json.
// Accepts both Qwen3_5ForConditionalGeneration configs (text_config + vision_config) and bare
// text configs (Qwen3_5ForCausalLM, model_type "qwen3_5_text"). Field names and defaults follow
// transformers' Qwen3_5TextConfig / Qwen3_5VisionConfig (see shared/spec/MODEL.md section 1).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace qwen::core {

enum class LayerType { kLinearAttention, kFullAttention };

struct TextConfig {
  int64_t vocab_size = 248320;
  int64_t hidden_size = 4096;           // H
  int64_t intermediate_size = 12288;    // I
  int64_t num_hidden_layers = 32;       // L
  int64_t num_attention_heads = 16;     // Hq
  int64_t num_key_value_heads = 4;      // Hkv
  int64_t head_dim = 256;               // D (not H / Hq)
  std::string hidden_act = "silu";
  double rms_norm_eps = 1e-6;
  int64_t max_position_embeddings = 32768;
  int64_t linear_conv_kernel_dim = 4;   // Kc
  int64_t linear_key_head_dim = 128;    // Dk
  int64_t linear_value_head_dim = 128;  // Dv
  int64_t linear_num_key_heads = 16;    // Hk
  int64_t linear_num_value_heads = 32;  // Hv
  int64_t full_attention_interval = 4;  // only used when layer_types is absent
  std::vector<LayerType> layer_types;   // always filled after parsing (explicit or derived)
  double rope_theta = 10000.0;
  double partial_rotary_factor = 0.25;
  std::array<int, 3> mrope_section = {11, 11, 10};
  bool tie_word_embeddings = false;

  int64_t rotary_dim() const { return static_cast<int64_t>(head_dim * partial_rotary_factor); }
  int64_t linear_conv_dim() const {
    return 2 * linear_num_key_heads * linear_key_head_dim +
           linear_num_value_heads * linear_value_head_dim;
  }
  int64_t num_layers_of(LayerType t) const;
};

struct VisionConfig {
  int64_t depth = 27;
  int64_t hidden_size = 1152;
  std::string hidden_act = "gelu_pytorch_tanh";
  int64_t intermediate_size = 4304;
  int64_t num_heads = 16;
  int64_t in_channels = 3;
  int64_t patch_size = 16;
  int64_t spatial_merge_size = 2;
  int64_t temporal_patch_size = 2;
  int64_t out_hidden_size = 3584;
  int64_t num_position_embeddings = 2304;
  double rope_theta = 10000.0;
};

struct ModelConfig {
  // "Qwen3_5ForConditionalGeneration" or "Qwen3_5ForCausalLM" (from `architectures`, or implied
  // by the presence of text_config).
  std::string architecture;
  TextConfig text;
  std::optional<VisionConfig> vision;  // present for multimodal configs
  int64_t image_token_id = 248056;
  int64_t video_token_id = 248057;
  int64_t vision_start_token_id = 248053;
  int64_t vision_end_token_id = 248054;
  // Checkpoint prefix of the text model: "model.language_model." (conditional generation) or
  // "model." (causal LM).
  std::string text_weight_prefix = "model.language_model.";
  std::string vision_weight_prefix = "model.visual.";
};

struct GenerationConfig {
  std::vector<int64_t> eos_token_ids;  // empty when the file names none
  std::optional<int64_t> pad_token_id;
  std::optional<int64_t> bos_token_id;
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 0;  // 0 = disabled
  double top_p = 1.0;
  double min_p = 0.0;
  double repetition_penalty = 1.0;
  std::optional<int64_t> max_new_tokens;
};

// Parses config.json text. `source` names the file in error messages. Inconsistent configs are
// InvalidArgument with a message naming the field (e.g. layer_types length != num_hidden_layers,
// mrope_section not summing to rotary_dim/2, Hv not a multiple of Hk, Hq not a multiple of Hkv,
// non-positive sizes, unknown layer type, unsupported hidden_act).
absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view json_text, std::string_view source);
// Reads `path` (a config.json, or a directory containing one).
absl::StatusOr<ModelConfig> LoadModelConfig(const std::filesystem::path& path);

// Parses generation_config.json text (eos_token_id may be an int or a list).
absl::StatusOr<GenerationConfig> ParseGenerationConfig(std::string_view json_text,
                                                       std::string_view source);
// Reads `dir`/generation_config.json; a missing file yields a default GenerationConfig.
absl::StatusOr<GenerationConfig> LoadGenerationConfig(const std::filesystem::path& dir);

}  // namespace qwen::core

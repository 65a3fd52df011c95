// Qwen3.5 checkpoints with random weights in the real Hugging Face format (config.json with
// text_config + vision_config, generation_config.json, bf16 safetensors, the real vocab size), so
// the whole stack can run end to end, and be benchmarked at full size, on a machine without
// downloaded weights. The default options give the small demo model; Qwen35Preset("9b") gives the
// full Qwen3.5-9B shape (about 19 GB), which Hugging Face transformers loads as well.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace qwen::tools {

// How the random values are drawn.
enum class DemoInit {
  // One std::mt19937_64 stream over all tensors in turn, held in memory and written at once: the
  // original demo generator, whose bytes existing tests and demo bundles depend on.
  kSequential,
  // Every value is a hash of (seed, tensor name, element index): filled by several threads and
  // streamed to disk chunk by chunk, with the same bytes for any thread count or chunk size.
  kParallel,
};

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

  // The rest of the shape (shared/spec/MODEL.md 1.2, 1.3); the defaults are the small demo's.
  int64_t intermediate_size = 0;  // 0: 2 * hidden_size
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 2;
  int64_t head_dim = 128;
  int64_t linear_num_key_heads = 4;
  int64_t linear_num_value_heads = 8;
  int64_t linear_key_head_dim = 32;
  int64_t linear_value_head_dim = 32;
  // Sums to head_dim * partial_rotary_factor (0.25) / 2.
  std::array<int64_t, 3> mrope_section = {6, 5, 5};
  int64_t vision_depth = 2;
  int64_t vision_hidden_size = 128;
  int64_t vision_intermediate_size = 256;
  int64_t vision_num_heads = 4;
  int64_t vision_out_hidden_size = 0;  // 0: hidden_size (as in every shipped config)

  // Values: matrices N(0, matrix_std) (0: 1/sqrt(fan_in), embeddings N(0, 1)); norm weights
  // N(neutral, norm_std), the neutral value being 0 for the zero-centred (1 + w) RMSNorms and 1
  // for linear_attn.norm and the vision LayerNorms.
  float matrix_std = 0.0f;
  float norm_std = 0.1f;
  // Store linear_attn.A_log and linear_attn.norm.weight as F32, as the published Qwen3.5
  // checkpoints do (everything else is BF16).
  bool f32_linear_attn_params = false;
  DemoInit init = DemoInit::kSequential;
  // Split the weights into model-0000i-of-0000n.safetensors files of at most about this many bytes
  // plus model.safetensors.index.json, as published checkpoints are; 0: one model.safetensors.
  uint64_t shard_bytes = 0;

  // How the writing runs; neither changes the bytes written.
  int threads = 0;        // kParallel fill threads; 0: all hardware threads
  bool progress = false;  // progress lines on stderr for long kParallel writes
};

// A named shape: "demo" (the defaults above) or "9b" (Qwen3.5-9B, MODEL.md 1.6: hidden 4096, 32
// layers (24 linear, 8 full), I 12288, 16/4 heads of 256, DeltaNet 16/32 heads of 128, vocab
// 248320, untied head; vision depth 27, hidden 1152, MLP 4304, 16 heads; matrices N(0, 0.02), F32
// A_log and gated-norm weights, kParallel values, 5 GB shards). NotFound for any other name.
absl::StatusOr<DemoCheckpointOptions> Qwen35Preset(std::string_view name);

// One tensor of the checkpoint and the distribution its values are drawn from.
struct DemoTensor {
  std::string name;
  core::DType dtype;
  core::Shape shape;
  float mean;
  float std;
};

// Every tensor the checkpoint holds, in generation order (the names of MODEL.md section 7).
std::vector<DemoTensor> DemoCheckpointTensors(const DemoCheckpointOptions& options);

// The weight files the checkpoint consists of: model.safetensors, or the shards (then also
// model.safetensors.index.json, not listed here).
std::vector<std::string> DemoCheckpointFiles(const DemoCheckpointOptions& options);

// Writes config.json and generation_config.json only (InvalidArgument for inconsistent options).
absl::Status WriteDemoCheckpointConfig(const std::filesystem::path& dir,
                                       const DemoCheckpointOptions& options);

// Writes config.json, generation_config.json and the weights into `dir` (created if needed),
// removing weight files of the other layout (single file vs shards) left by an earlier write.
// Deterministic for given options.
absl::Status WriteDemoCheckpoint(const std::filesystem::path& dir,
                                 const DemoCheckpointOptions& options);

// The name of the marker file EnsureDemoCheckpoint writes last.
inline constexpr char kDemoCheckpointMarker[] = "demo_checkpoint.complete.json";

// Like WriteDemoCheckpoint, but returns false without writing when `dir` already holds a complete
// checkpoint written from options that give the same bytes (recorded in a marker file written
// after everything else, with the size of every weight file); `force` always rewrites. Returns
// true when it wrote.
absl::StatusOr<bool> EnsureDemoCheckpoint(const std::filesystem::path& dir,
                                          const DemoCheckpointOptions& options, bool force);

}  // namespace qwen::tools

// Qwen3.5 hybrid text decoder on the CPU (fp32): embedding, [Gated DeltaNet | gated attention]
// layers per config.layer_types, each followed by the MLP, final norm and LM head (MODEL.md 2).
// Immutable after Load(); per-sequence state is passed in, so one model serves many sequences.
#pragma once

#include <filesystem>
#include <memory>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/safetensors.h"
#include "core/tensor.h"
#include "text_service/model/forward_batch.h"
#include "text_service/model/forward_context.h"
#include "text_service/model/gated_attention.h"
#include "text_service/model/gated_deltanet.h"
#include "text_service/model/mlp.h"

namespace qwen::text {

enum class LogitsMode {
  kAll,   // logits for every token of the batch: [N, V]
  kLast,  // logits for the last token of each sequence: [num_sequences, V]
};

class TextModel {
 public:
  // Loads config.json and the text weights of a Hugging Face checkpoint directory. Missing or
  // mis-shaped tensors, and unexpected tensors under the text prefix, are errors naming them.
  static absl::StatusOr<std::unique_ptr<TextModel>> Load(const std::filesystem::path& dir);

  const core::ModelConfig& model_config() const { return config_; }
  const core::TextConfig& config() const { return config_.text; }
  SequenceState NewSequence() const { return SequenceState(config_.text); }

  // Runs the new tokens of every sequence in `batch` and advances their states. The batch is
  // validated first (token ids in [0, vocab), spans contiguous from row 0 covering every row, 3*N
  // positions, distinct states, context within max_position_embeddings); on error no state is
  // touched. Returns f32 logits as selected by `mode`.
  absl::StatusOr<core::Tensor> Forward(const ForwardContext& ctx, const ForwardBatch& batch,
                                       LogitsMode mode) const;

  // Token embeddings of `ids` (validated by the caller) into f32 out [ids.size(), H].
  void EmbedTokens(std::span<const int64_t> ids, float* out) const;

  // The hidden states after the final norm (f32 [N, H]) — the input of the LM head.
  absl::StatusOr<core::Tensor> ForwardHidden(const ForwardContext& ctx,
                                             const ForwardBatch& batch) const;

 private:
  struct Layer {
    std::variant<GatedAttention, GatedDeltaNet> mixer;
    core::Tensor input_layernorm;           // f32 [H], zero-centred
    core::Tensor post_attention_layernorm;  // f32 [H], zero-centred
    Mlp mlp;
  };
  TextModel() = default;
  absl::Status Validate(const ForwardBatch& batch) const;

  core::ModelConfig config_;
  core::Tensor embed_tokens_;  // f32 [V, H]
  core::Tensor norm_;          // f32 [H], zero-centred
  core::Tensor lm_head_;       // f32 [V, H]; shares embed_tokens_ when tied
  std::vector<Layer> layers_;
};

}  // namespace qwen::text

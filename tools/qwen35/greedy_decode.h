// Greedy decoding of one prompt with the CPU model: prefill, then one recurrent step per token.
// Used by `qwen35 forward --greedy` (reference parity) and `qwen35 generate` (a quick look).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "text_service/model/text_model.h"

namespace qwen::tools {

struct GreedyResult {
  core::Tensor prefill_logits;    // f32 [T, V] when requested, else empty
  std::vector<int64_t> ids;       // generated ids
  std::vector<float> step_logits; // f32 [ids.size(), V]: the logits that chose each id
};

struct GreedyOptions {
  int64_t max_new_tokens = 0;
  bool keep_prefill_logits = false;     // LogitsMode::kAll for the prefill
  bool keep_step_logits = false;
  std::vector<int64_t> stop_ids;        // stop after emitting one of these
  int num_threads = 1;
  // Called after each generated id; return false to stop early.
  std::function<bool(int64_t id)> on_token;
};

// Index of the first maximum (torch.argmax's tie rule).
int64_t ArgMax(const float* logits, int64_t n);

absl::StatusOr<GreedyResult> GreedyDecode(const text::TextModel& model,
                                          const std::vector<int64_t>& prompt,
                                          const GreedyOptions& options);

// What a multimodal prompt adds to its token ids (MODEL.md 3 and 5).
struct PrefillInputs {
  // f32 [T, H]: replaces the embedding lookup of the prompt (placeholder rows already hold the
  // vision features); empty = look the ids up.
  std::span<const float> input_embeds;
  // i64 [3, T] M-RoPE positions of the prompt (rows T, H, W); empty = text positions
  // (index + rope_delta on all axes).
  std::span<const int64_t> positions;
  // Decode positions are cache_len + rope_delta on all three axes (MODEL.md 3.2).
  int64_t rope_delta = 0;
};

// GreedyDecode with a multimodal prefill. Decoded tokens are embedded by id as usual.
absl::StatusOr<GreedyResult> GreedyDecode(const text::TextModel& model,
                                          const std::vector<int64_t>& prompt,
                                          const GreedyOptions& options,
                                          const PrefillInputs& prefill);

}  // namespace qwen::tools

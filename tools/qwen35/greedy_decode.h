// Greedy decoding of one prompt with the CPU model: prefill, then one recurrent step per token.
// Used by `qwen35 forward --greedy` (reference parity) and `qwen35 generate` (a quick look).
#pragma once

#include <cstdint>
#include <functional>
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

}  // namespace qwen::tools

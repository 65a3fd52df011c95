// Per-request sampling parameters and stop conditions, with validation that names the bad field.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"

namespace qwen::text {

struct SamplingParams {
  double temperature = 1.0;             // 0 = greedy
  double top_p = 1.0;                   // (0, 1]
  int64_t top_k = 0;                    // 0 or -1 = disabled
  double min_p = 0.0;                   // [0, 1]
  double presence_penalty = 0.0;        // [-2, 2], OpenAI semantics, over generated tokens
  double frequency_penalty = 0.0;       // [-2, 2], OpenAI semantics, over generated tokens
  double repetition_penalty = 1.0;      // > 0, HF semantics, over prompt + generated tokens
  std::optional<uint64_t> seed;         // reproducible sampling for this request when set
  int64_t max_tokens = 256;             // >= 1
  std::vector<int64_t> stop_token_ids;  // stop after emitting one of these (besides EOS)
  bool ignore_eos = false;
  int64_t logprobs = 0;      // 0 = none; 1 = chosen token's logprob; top_logprobs extra
  int64_t top_logprobs = 0;  // [0, 20]

  // InvalidArgument naming the field and the allowed range; `vocab_size` bounds stop ids.
  absl::Status Validate(int64_t vocab_size) const;
};

}  // namespace qwen::text

#include "text_service/engine/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace qwen::text {

absl::Status SamplingParams::Validate(int64_t vocab_size) const {
  auto bad = [](const char* field, double value, const char* range) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " = ", value, " is invalid: must be ", range));
  };
  if (!std::isfinite(temperature) || temperature < 0 || temperature > 100) {
    return bad("temperature", temperature, "in [0, 100]");
  }
  if (!std::isfinite(top_p) || top_p <= 0 || top_p > 1) return bad("top_p", top_p, "in (0, 1]");
  if (top_k < -1 || top_k > vocab_size) {
    return bad("top_k", static_cast<double>(top_k), "-1, 0 (disabled) or in [1, vocab_size]");
  }
  if (!std::isfinite(min_p) || min_p < 0 || min_p > 1) return bad("min_p", min_p, "in [0, 1]");
  if (!std::isfinite(presence_penalty) || std::fabs(presence_penalty) > 2) {
    return bad("presence_penalty", presence_penalty, "in [-2, 2]");
  }
  if (!std::isfinite(frequency_penalty) || std::fabs(frequency_penalty) > 2) {
    return bad("frequency_penalty", frequency_penalty, "in [-2, 2]");
  }
  if (!std::isfinite(repetition_penalty) || repetition_penalty <= 0 || repetition_penalty > 10) {
    return bad("repetition_penalty", repetition_penalty, "in (0, 10]");
  }
  if (max_tokens < 1) return bad("max_tokens", static_cast<double>(max_tokens), ">= 1");
  if (logprobs < 0 || logprobs > 1) return bad("logprobs", static_cast<double>(logprobs), "0 or 1");
  if (top_logprobs < 0 || top_logprobs > 20) {
    return bad("top_logprobs", static_cast<double>(top_logprobs), "in [0, 20]");
  }
  for (int64_t id : stop_token_ids) {
    if (id < 0 || id >= vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stop_token_ids contains ", id, ", outside the vocabulary [0, ", vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace qwen::text

// What a caller submits to the engine and what it streams back.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/tensor.h"
#include "text_service/engine/sampler.h"
#include "text_service/engine/sampling_params.h"

namespace qwen::text {

// Rows [begin, begin + embeddings.dim(0)) of the prompt take these f32 [n, H] embeddings instead
// of the token embeddings (image/video features at their placeholder tokens, MODEL.md 5).
struct EmbeddingSpan {
  int64_t begin = 0;
  core::Tensor embeddings;
};

struct GenerateRequest {
  std::string request_id;                 // unique among live requests
  std::vector<int64_t> prompt;            // token ids (placeholders included for multimodal)
  std::vector<EmbeddingSpan> embeddings;  // optional multimodal injections, non-overlapping
  std::vector<int64_t> positions;         // optional i64 [3, T] M-RoPE positions of the prompt
  int64_t rope_delta = 0;                 // decode positions are num_tokens + rope_delta
  SamplingParams sampling;
};

enum class FinishReason { kNone, kStop, kLength, kAbort, kError };
const char* FinishReasonName(FinishReason reason);

struct GeneratedToken {
  int64_t token = 0;
  float logprob = 0.0f;                    // when requested
  std::vector<TokenLogprob> top_logprobs;  // when requested
};

// One update of a request's stream. Exactly one update per request has finished == true, and it
// is the last; after it the engine holds nothing of the request.
struct StreamUpdate {
  std::vector<GeneratedToken> tokens;  // new tokens since the previous update
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  int64_t matched_stop_token = -1;  // the EOS / stop id that ended the stream, if any
  absl::Status error;               // set when finish_reason == kError
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// Called on the engine thread; must not block (hand the update to another thread and return).
using StreamCallback = std::function<void(const StreamUpdate&)>;

}  // namespace qwen::text

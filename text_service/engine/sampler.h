// Token sampling on the CPU: penalties, temperature, top-k, top-p, min-p (applied in that order, as
// Hugging Face's logits processors do), then a draw from the request's own random stream.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "text_service/engine/sampling_params.h"

namespace qwen::text {

// A request's random stream: splitmix64-seeded xoshiro256**, so a seeded request draws the same
// numbers on every platform and whatever else shares its batch.
class SamplerRng {
 public:
  explicit SamplerRng(uint64_t seed);
  uint64_t Next();
  double Uniform();  // [0, 1), 53 random bits

 private:
  uint64_t s_[4];
};

struct TokenLogprob {
  int64_t token = 0;
  float logprob = 0.0f;
};

struct SampleResult {
  int64_t token = 0;
  float logprob = 0.0f;                    // of `token` under the model's raw distribution
  std::vector<TokenLogprob> top_logprobs;  // the top-N of the raw distribution, best first
};

// Chooses the next token from raw logits (f32 [vocab]). `prompt` and `generated` are the
// sequence's tokens so far (penalties). Logprobs, when asked for, are log_softmax of the raw
// logits (before penalties and temperature), like vLLM's default.
SampleResult Sample(std::span<const float> logits, const SamplingParams& params,
                    std::span<const int64_t> prompt, std::span<const int64_t> generated,
                    SamplerRng& rng, std::vector<float>& scratch);

}  // namespace qwen::text

// GPU token sampling: the CUDA twin of the CPU sampler (text_service/engine/sampler.h) over a
// batch of fp32 logit rows with per-row parameters. Same processor order as Hugging Face and the
// CPU sampler: penalties -> temperature -> top-k -> top-p (measured on the top-k distribution) ->
// min-p, then a draw; greedy rows (temperature 0) take the first index of the maximum of the
// penalised logits. The chosen token's log-probability and the top-N log-probabilities are
// log_softmax of the raw logits (before penalties and temperature), as the CPU sampler.
//
// Randomness is counter based (Philox4x32-10 keyed by the row's seed, counter = (token, step)):
// a row's draw depends only on its logits, parameters, seed and step, never on the batch it runs
// in. The draw is a Gumbel-max over the kept set (argmax of logit / T + Gumbel noise), an exact
// sample of the renormalised distribution; it cannot reproduce the CPU sampler's xoshiro stream.
//
// Cost: one block per row. Greedy rows and top-k <= 32 rows read the logits once (the top 32 of
// the row are selected in the same pass and everything else happens on those); rows with a larger
// or no top-k read them a few more times (radix selection of the top-k / top-p cut, then the draw).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen::kernels::cuda {

// Per-row parameters, an array [num_rows] on the device (mirrors qwen::text::SamplingParams).
struct SamplingRowParams {
  double temperature = 1.0;         // 0 = greedy
  double top_p = 1.0;               // (0, 1]
  double min_p = 0.0;               // [0, 1]
  double repetition_penalty = 1.0;  // > 0, HF: over the prompt + generated tokens
  double presence_penalty = 0.0;    // OpenAI: over the generated tokens
  double frequency_penalty = 0.0;   // OpenAI: over the generated tokens
  int64_t top_k = 0;                // <= 0 (or >= vocab) = disabled
  uint64_t seed = 0;                // the request's seed
  uint64_t step = 0;                // draw counter, e.g. the number of tokens generated so far
};

// The tokens each row's penalties apply to, CSR by row (device arrays): row r owns entries
// [offsets[r], offsets[r+1]); each entry is a *distinct* token of the row's prompt + generated text
// and its number of occurrences in the generated text (0 for prompt-only tokens). The repetition
// penalty applies to every entry, presence and frequency to entries with a count > 0.
// offsets == nullptr: no penalties at all.
struct PenaltyTokens {
  const int32_t* offsets = nullptr;  // [num_rows + 1]
  const int32_t* tokens = nullptr;   // [offsets[num_rows]] token ids in [0, vocab)
  const int32_t* counts = nullptr;   // [offsets[num_rows]] generated-text occurrences
};

struct SampleOutputs {
  int32_t* tokens = nullptr;      // [num_rows] the chosen tokens (required)
  float* logprobs = nullptr;      // [num_rows] raw log-probability of the chosen token, or null
  int32_t* top_tokens = nullptr;  // [num_rows, num_top_logprobs] best first, or null
  float* top_logprobs = nullptr;  // [num_rows, num_top_logprobs] raw log-probabilities
};

struct SampleParams {
  int64_t num_rows = 0;
  int64_t vocab_size = 0;        // V (<= 1 << 20; 248320 for Qwen3.5)
  int64_t logits_stride = 0;     // elements between rows of logits (>= V)
  int64_t num_top_logprobs = 0;  // N in [0, 32]: top-N raw log-probabilities per row
};

// logits: f32 [num_rows, V] (rows logits_stride apart), not modified. rows: SamplingRowParams
// [num_rows] on the device. Positions of the top-N outputs past V are written as token -1 with
// log-probability -inf. Returns cudaErrorInvalidValue for bad shapes, cudaErrorNotSupported when
// the row's shared memory (V / 8 bytes of penalty bitmap + ~56 KB) exceeds the device's limit.
cudaError_t SampleTokens(const float* logits, const SamplingRowParams* rows,
                         const PenaltyTokens& penalties, const SampleOutputs& out,
                         const SampleParams& p, cudaStream_t stream);

}  // namespace qwen::kernels::cuda

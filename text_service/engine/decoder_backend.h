// What the engine needs from a decoder, so one scheduler drives the CPU model (cpu_backend.h) and
// the CUDA model (cuda_backend.h): per-sequence decoder state, and one step that runs a flattened
// batch and samples the next token of the sequences that want one.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "text_service/engine/sampler.h"
#include "text_service/engine/sampling_params.h"

namespace qwen::text {

// A sequence's decoder state (KV cache + DeltaNet state), freed when destroyed.
class DecoderState {
 public:
  virtual ~DecoderState() = default;
  // Tokens already in the state.
  virtual int64_t num_tokens() const = 0;
  // Device or host memory the state holds now.
  virtual size_t MemoryBytes() const = 0;
};

// One sequence of a step: its new tokens and, when `sample` is set, how to pick its next token.
struct BackendRow {
  DecoderState* state = nullptr;
  std::span<const int64_t> ids = {};  // new tokens (>= 1)
  // i64 [3, ids.size()] M-RoPE positions of the new tokens; empty: text positions
  // num_tokens + i + rope_delta (the state's rope delta).
  std::span<const int64_t> positions = {};
  // Per new token, an f32 [H] row that replaces its embedding (multimodal features), or nullptr;
  // empty when no row is replaced.
  std::span<const float* const> embeddings = {};
  bool sample = false;  // false: a prompt chunk whose logits nobody needs
  const SamplingParams* sampling = nullptr;
  std::span<const int64_t> prompt = {};     // the whole prompt (penalties)
  std::span<const int64_t> generated = {};  // generated so far (penalties)
  SamplerRng* rng = nullptr;                // the request's stream (CPU sampling)
  uint64_t seed = 0;                        // the request's seed (GPU sampling)
};

class DecoderBackend {
 public:
  virtual ~DecoderBackend() = default;
  virtual const core::ModelConfig& model_config() const = 0;
  const core::TextConfig& config() const { return model_config().text; }
  // "cpu" or "cuda: <device>" for logs and the model info RPC.
  virtual std::string Describe() const = 0;
  // Sequences that can hold state at once (the engine's running limit is capped by it).
  virtual int64_t max_sequences() const = 0;
  // Tokens one Step may carry in all (the engine's per-step budget is capped by it).
  virtual int64_t max_step_tokens() const = 0;

  // Tokens one sequence may hold at most given the whole cache (a request needing more can never
  // run: the engine rejects it at submission).
  virtual int64_t max_sequence_tokens() const = 0;

  // A new empty state whose decode positions are offset by `rope_delta` (MODEL.md 3.2). A backend
  // with a bounded cache reserves room for `reserve_tokens` tokens now. ResourceExhausted when
  // that room (or a state) is not free now: the engine keeps the request queued.
  virtual absl::StatusOr<std::unique_ptr<DecoderState>> NewState(int64_t rope_delta,
                                                                 int64_t reserve_tokens) = 0;
  // Grows `state`'s reservation to `total_tokens` tokens in all (nothing to do when it already
  // holds that much, or when the cache is unbounded), so that the next Step cannot run out of
  // cache for it. ResourceExhausted when the room is not free now; the reservation is then
  // unchanged and the engine may free another sequence's state (preempt it) and retry.
  virtual absl::Status Reserve(DecoderState* state, int64_t total_tokens) = 0;
  // Runs the rows' new tokens (advancing their states) and returns one SampleResult per row
  // (rows with sample == false get a default one). On error the rows' states are undefined: the
  // engine fails those requests and frees them.
  virtual absl::StatusOr<std::vector<SampleResult>> Step(std::span<const BackendRow> rows) = 0;
};

}  // namespace qwen::text

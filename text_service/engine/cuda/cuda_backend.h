// The engine's decoder on one GPU: the CUDA text model (text_service/model/cuda) with GPU sampling
// and decode CUDA graphs. Sampling parameters map one to one onto the GPU sampler's
// (kernels/cuda/sampling.h); its draws are Philox-based (seed, step), so a seeded request is
// reproducible on the GPU but draws differently from the CPU sampler's xoshiro stream.
#pragma once

#include "text_service/engine/decoder_backend.h"
#include "text_service/model/cuda/cuda_text_model.h"

namespace qwen::text {

class CudaBackend : public DecoderBackend {
 public:
  // `model` must outlive the backend; only the backend may use it from now on (one thread).
  explicit CudaBackend(cuda::CudaTextModel* model);

  const core::ModelConfig& model_config() const override { return model_->model_config(); }
  std::string Describe() const override;
  int64_t max_sequences() const override;
  int64_t max_step_tokens() const override { return model_->memory_plan().max_batched_tokens; }
  // The KV pages free when the backend was made (and the per-sequence block-table limit).
  int64_t max_sequence_tokens() const override { return max_sequence_tokens_; }
  // A state slot with the KV pages of `reserve_tokens` tokens (CacheAllocator::Reserve).
  absl::StatusOr<std::unique_ptr<DecoderState>> NewState(int64_t rope_delta,
                                                         int64_t reserve_tokens) override;
  // Grows the sequence's KV pages (CacheAllocator::Reserve: all or nothing).
  absl::Status Reserve(DecoderState* state, int64_t total_tokens) override;
  absl::StatusOr<std::vector<SampleResult>> Step(std::span<const BackendRow> rows) override;

 private:
  cuda::CudaTextModel* model_;
  int64_t max_sequences_;
  int64_t max_sequence_tokens_;
};

}  // namespace qwen::text

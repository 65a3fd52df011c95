// The engine's decoder on the CPU: TextModel forward (fp32) and the CPU sampler.
#pragma once

#include "text_service/engine/decoder_backend.h"
#include "text_service/model/text_model.h"

namespace qwen::text {

class CpuBackend : public DecoderBackend {
 public:
  // `model` must outlive the backend. `num_threads`: GEMM threads of a forward.
  CpuBackend(const TextModel* model, int num_threads) : model_(model), num_threads_(num_threads) {}

  const core::ModelConfig& model_config() const override { return model_->model_config(); }
  std::string Describe() const override { return "cpu"; }
  int64_t max_sequences() const override { return int64_t{1} << 30; }
  int64_t max_step_tokens() const override { return int64_t{1} << 30; }
  // Host memory grows with each sequence: no cache bound.
  int64_t max_sequence_tokens() const override { return int64_t{1} << 40; }
  absl::StatusOr<std::unique_ptr<DecoderState>> NewState(int64_t rope_delta,
                                                         int64_t reserve_tokens) override;
  absl::Status Reserve(DecoderState*, int64_t) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<SampleResult>> Step(std::span<const BackendRow> rows) override;

 private:
  const TextModel* model_;
  int num_threads_;
  std::vector<float> scratch_;
};

}  // namespace qwen::text

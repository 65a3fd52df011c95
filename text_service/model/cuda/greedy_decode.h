// Greedy decoding of one prompt with the CUDA model: prefill (optionally in chunks, exercising
// multi-token continuation), then one decode step per token (conv update + recurrent delta rule
// + paged decode attention). Used by `qwen35 forward --device cuda` and the GPU parity tests; the
// outputs are those of tools/qwen35/greedy_decode.h for the CPU model.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "text_service/model/cuda/cuda_text_model.h"

namespace qwen::text::cuda {

struct CudaGreedyOptions {
  int64_t max_new_tokens = 0;
  bool keep_prefill_logits = true;  // all prompt positions (LogitsMode::kAll)
  bool keep_step_logits = true;
  // > 0: run the prompt as consecutive chunks of this many tokens (each continuing the cache of
  // the previous one); 0: one forward over the whole prompt.
  int64_t prefill_chunk = 0;
};

struct CudaGreedyResult {
  core::Tensor prefill_logits;     // f32 [T, V] when kept, else empty
  std::vector<int64_t> ids;        // generated ids
  std::vector<float> step_logits;  // f32 [ids.size(), V]: the logits that chose each id
};

// Index of the first maximum (torch.argmax's tie rule).
int64_t ArgMax(const float* logits, int64_t n);

// Uses one sequence of `model` (freed before returning).
absl::StatusOr<CudaGreedyResult> GreedyDecode(CudaTextModel& model,
                                              const std::vector<int64_t>& prompt,
                                              const CudaGreedyOptions& options);

}  // namespace qwen::text::cuda

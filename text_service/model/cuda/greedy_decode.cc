#include "text_service/model/cuda/greedy_decode.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "core/status.h"

namespace qwen::text::cuda {

int64_t ArgMax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

absl::StatusOr<CudaGreedyResult> GreedyDecode(CudaTextModel& model,
                                              const std::vector<int64_t>& prompt,
                                              const CudaGreedyOptions& options) {
  if (prompt.empty()) return absl::InvalidArgumentError("the prompt has no tokens");
  if (options.max_new_tokens < 0 || options.prefill_chunk < 0) {
    return absl::InvalidArgumentError("max_new_tokens and prefill_chunk must be >= 0");
  }
  const int64_t vocab = model.config().vocab_size;
  const int64_t t = static_cast<int64_t>(prompt.size());
  QWEN_ASSIGN_OR_RETURN(CudaSequence seq, model.NewSequence());
  CudaGreedyResult result;
  const LogitsMode prefill_mode =
      options.keep_prefill_logits ? LogitsMode::kAll : LogitsMode::kLast;
  if (options.keep_prefill_logits) {
    result.prefill_logits = core::Tensor::Zeros({t, vocab}, core::DType::kF32);
  }
  const int64_t chunk = options.prefill_chunk > 0 ? options.prefill_chunk : t;
  std::vector<float> last(static_cast<size_t>(vocab));
  for (int64_t begin = 0; begin < t; begin += chunk) {
    const int64_t len = std::min(chunk, t - begin);
    CudaForwardBatch batch;
    batch.token_ids = std::span<const int64_t>(prompt).subspan(begin, len);
    batch.sequences = {{.length = len, .sequence = &seq}};
    QWEN_ASSIGN_OR_RETURN(core::Tensor logits, model.Forward(batch, prefill_mode));
    const float* rows = logits.data<float>();
    if (options.keep_prefill_logits) {
      std::memcpy(result.prefill_logits.data<float>() + begin * vocab, rows,
                  static_cast<size_t>(len * vocab) * sizeof(float));
    }
    const float* tail = rows + (logits.dim(0) - 1) * vocab;
    std::copy(tail, tail + vocab, last.begin());
  }
  while (static_cast<int64_t>(result.ids.size()) < options.max_new_tokens) {
    const int64_t next = ArgMax(last.data(), vocab);
    result.ids.push_back(next);
    if (options.keep_step_logits) {
      result.step_logits.insert(result.step_logits.end(), last.begin(), last.end());
    }
    if (static_cast<int64_t>(result.ids.size()) >= options.max_new_tokens) break;
    const int64_t id[1] = {next};
    CudaForwardBatch batch;
    batch.token_ids = std::span<const int64_t>(id, 1);
    batch.sequences = {{.length = 1, .sequence = &seq}};
    QWEN_ASSIGN_OR_RETURN(core::Tensor logits, model.Forward(batch, LogitsMode::kLast));
    std::copy(logits.data<float>(), logits.data<float>() + vocab, last.begin());
  }
  return result;
}

}  // namespace qwen::text::cuda

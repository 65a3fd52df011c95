#include "tools/qwen35/greedy_decode.h"

#include <algorithm>
#include <cstring>

#include "core/status.h"

namespace qwen::tools {

int64_t ArgMax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

absl::StatusOr<GreedyResult> GreedyDecode(const text::TextModel& model,
                                          const std::vector<int64_t>& prompt,
                                          const GreedyOptions& options) {
  if (prompt.empty()) return absl::InvalidArgumentError("the prompt has no tokens");
  const int64_t vocab = model.config().vocab_size;
  text::SequenceState state = model.NewSequence();
  text::ForwardContext ctx{.num_threads = options.num_threads};
  GreedyResult result;

  std::vector<int64_t> ids = prompt;
  text::LogitsMode mode =
      options.keep_prefill_logits ? text::LogitsMode::kAll : text::LogitsMode::kLast;
  while (true) {
    const int64_t n = static_cast<int64_t>(ids.size());
    text::ForwardBatch batch;
    batch.token_ids = ids;
    batch.sequences = {text::SequenceSpan{.begin = 0, .length = n, .state = &state}};
    std::vector<int64_t> positions = text::TextPositions(batch.sequences, n);
    batch.positions = positions;
    QWEN_ASSIGN_OR_RETURN(core::Tensor logits, model.Forward(ctx, batch, mode));
    const float* last = logits.data<float>() + (logits.dim(0) - 1) * vocab;
    if (mode == text::LogitsMode::kAll) {
      result.prefill_logits = logits;
      mode = text::LogitsMode::kLast;
    }
    if (static_cast<int64_t>(result.ids.size()) >= options.max_new_tokens) break;
    int64_t next = ArgMax(last, vocab);
    result.ids.push_back(next);
    if (options.keep_step_logits) result.step_logits.insert(result.step_logits.end(), last, last + vocab);
    bool go_on = !options.on_token || options.on_token(next);
    if (!go_on || std::find(options.stop_ids.begin(), options.stop_ids.end(), next) !=
                      options.stop_ids.end()) {
      break;
    }
    if (static_cast<int64_t>(result.ids.size()) >= options.max_new_tokens) break;
    ids = {next};
  }
  return result;
}

}  // namespace qwen::tools

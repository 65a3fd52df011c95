#include "tools/qwen35/greedy_decode.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
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
  return GreedyDecode(model, prompt, options, PrefillInputs{});
}

absl::StatusOr<GreedyResult> GreedyDecode(const text::TextModel& model,
                                          const std::vector<int64_t>& prompt,
                                          const GreedyOptions& options,
                                          const PrefillInputs& prefill) {
  if (prompt.empty()) return absl::InvalidArgumentError("the prompt has no tokens");
  const int64_t vocab = model.config().vocab_size;
  const size_t t = prompt.size();
  if (!prefill.input_embeds.empty() &&
      prefill.input_embeds.size() != t * static_cast<size_t>(model.config().hidden_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prefill input_embeds has ", prefill.input_embeds.size(), " values; expected ", t, " x ",
        model.config().hidden_size));
  }
  if (!prefill.positions.empty() && prefill.positions.size() != 3 * t) {
    return absl::InvalidArgumentError(absl::StrCat("prefill positions has ",
                                                   prefill.positions.size(),
                                                   " values; expected 3 x ", t));
  }
  text::SequenceState state = model.NewSequence();
  state.set_rope_delta(prefill.rope_delta);
  bool first = true;
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
    std::vector<int64_t> positions;
    if (first && !prefill.positions.empty()) {
      batch.positions = prefill.positions;
    } else {
      positions = text::TextPositions(batch.sequences, n);
      batch.positions = positions;
    }
    if (first && !prefill.input_embeds.empty()) batch.input_embeds = prefill.input_embeds.data();
    first = false;
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

#include "text_service/engine/cpu_backend.h"

#include <cstring>

#include "core/status.h"

namespace qwen::text {
namespace {

class CpuState : public DecoderState {
 public:
  explicit CpuState(SequenceState s) : state(std::move(s)) {}
  int64_t num_tokens() const override { return state.num_tokens(); }
  size_t MemoryBytes() const override { return state.MemoryBytes(); }
  SequenceState state;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DecoderState>> CpuBackend::NewState(int64_t rope_delta,
                                                                   int64_t /*reserve_tokens*/) {
  auto s = std::make_unique<CpuState>(model_->NewSequence());
  s->state.set_rope_delta(rope_delta);
  return s;
}

absl::StatusOr<std::vector<SampleResult>> CpuBackend::Step(std::span<const BackendRow> rows) {
  const int64_t h = config().hidden_size, vocab = config().vocab_size;
  int64_t n = 0;
  bool any_embeddings = false;
  for (const BackendRow& r : rows) {
    n += static_cast<int64_t>(r.ids.size());
    any_embeddings |= !r.embeddings.empty();
  }
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(n));
  std::vector<int64_t> positions(static_cast<size_t>(3 * n));
  core::Tensor embeds;
  ForwardBatch batch;
  int64_t row = 0;
  for (const BackendRow& r : rows) {
    auto* state = &static_cast<CpuState*>(r.state)->state;
    const int64_t len = static_cast<int64_t>(r.ids.size());
    ids.insert(ids.end(), r.ids.begin(), r.ids.end());
    batch.sequences.push_back(SequenceSpan{.begin = row, .length = len, .state = state});
    for (int64_t j = 0; j < len; ++j) {
      for (int axis = 0; axis < 3; ++axis) {
        positions[axis * n + row + j] = r.positions.empty()
                                            ? state->num_tokens() + j + state->rope_delta()
                                            : r.positions[axis * len + j];
      }
    }
    row += len;
  }
  if (any_embeddings) {
    embeds = core::Tensor::Zeros({n, h}, core::DType::kF32);
    model_->EmbedTokens(ids, embeds.data<float>());
    row = 0;
    for (const BackendRow& r : rows) {
      for (size_t j = 0; j < r.embeddings.size(); ++j) {
        if (r.embeddings[j] != nullptr) {
          std::memcpy(embeds.data<float>() + (row + static_cast<int64_t>(j)) * h, r.embeddings[j],
                      static_cast<size_t>(h) * sizeof(float));
        }
      }
      row += static_cast<int64_t>(r.ids.size());
    }
    batch.input_embeds = embeds.data<float>();
  }
  batch.token_ids = ids;
  batch.positions = positions;
  QWEN_ASSIGN_OR_RETURN(
      core::Tensor logits,
      model_->Forward(ForwardContext{.num_threads = num_threads_}, batch, LogitsMode::kLast));
  std::vector<SampleResult> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const BackendRow& r = rows[i];
    if (!r.sample) continue;
    std::span<const float> row_logits(logits.data<float>() + static_cast<int64_t>(i) * vocab,
                                      static_cast<size_t>(vocab));
    out[i] = Sample(row_logits, *r.sampling, r.prompt, r.generated, *r.rng, scratch_);
  }
  return out;
}

}  // namespace qwen::text

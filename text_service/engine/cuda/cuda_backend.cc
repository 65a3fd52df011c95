#include "text_service/engine/cuda/cuda_backend.h"

#include <algorithm>
#include <span>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace qwen::text {
namespace {

class CudaState : public DecoderState {
 public:
  CudaState(cuda::CudaSequence s, const cuda::MemoryPlan* plan) : seq(std::move(s)), plan_(plan) {}
  int64_t num_tokens() const override { return seq.num_tokens(); }
  size_t MemoryBytes() const override {
    return plan_->slot_bytes + seq.pages().size() * plan_->page_bytes;
  }
  cuda::CudaSequence seq;

  // The distinct tokens of prompt + generated text with their generated-text counts (the GPU
  // sampler's penalty list), kept across steps: the prompt is counted once, then each step adds
  // only the tokens generated since, instead of re-hashing the whole prompt every decode step.
  const std::unordered_map<int64_t, int32_t>& PenaltyCounts(std::span<const int64_t> prompt,
                                                            std::span<const int64_t> generated) {
    if (!prompt_counted_) {
      for (int64_t t : prompt) penalty_counts_.emplace(t, 0);
      prompt_counted_ = true;
    }
    for (; counted_generated_ < generated.size(); ++counted_generated_) {
      ++penalty_counts_[generated[counted_generated_]];
    }
    return penalty_counts_;
  }

 private:
  const cuda::MemoryPlan* plan_;
  std::unordered_map<int64_t, int32_t> penalty_counts_;
  bool prompt_counted_ = false;
  size_t counted_generated_ = 0;
};

kernels::cuda::SamplingRowParams RowParams(const BackendRow& r) {
  if (r.sampling == nullptr) return {.temperature = 0.0};
  const SamplingParams& p = *r.sampling;
  return {.temperature = p.temperature,
          .top_p = p.top_p,
          .min_p = p.min_p,
          .repetition_penalty = p.repetition_penalty,
          .presence_penalty = p.presence_penalty,
          .frequency_penalty = p.frequency_penalty,
          .top_k = std::max<int64_t>(p.top_k, 0),
          .seed = r.seed,
          .step = static_cast<uint64_t>(r.generated.size())};
}

bool HasPenalties(const BackendRow& r) {
  return r.sampling != nullptr &&
         (r.sampling->repetition_penalty != 1.0 || r.sampling->presence_penalty != 0.0 ||
          r.sampling->frequency_penalty != 0.0);
}

}  // namespace

CudaBackend::CudaBackend(cuda::CudaTextModel* model)
    : model_(model),
      max_sequences_(std::min(model->cache().num_free_slots(), model->memory_plan().max_seqs)) {
  const cuda::CacheAllocator& cache = model->cache();
  max_sequence_tokens_ =
      cache.uses_pages()
          ? std::min(cache.num_free_pages(), cache.max_pages_per_sequence()) * cache.page_size()
          : model->config().max_position_embeddings;
}

std::string CudaBackend::Describe() const {
  return absl::StrCat("cuda: ", model_->context().Describe());
}

int64_t CudaBackend::max_sequences() const { return max_sequences_; }

absl::StatusOr<std::unique_ptr<DecoderState>> CudaBackend::NewState(int64_t rope_delta,
                                                                    int64_t reserve_tokens) {
  QWEN_ASSIGN_OR_RETURN(cuda::CudaSequence seq, model_->NewSequence());
  seq.set_rope_delta(rope_delta);
  if (model_->cache().uses_pages()) {
    // All or nothing; the slot goes back with `seq` on failure.
    QWEN_RETURN_IF_ERROR(model_->mutable_cache().Reserve(seq, reserve_tokens));
  }
  return std::make_unique<CudaState>(std::move(seq), &model_->memory_plan());
}

absl::Status CudaBackend::Reserve(DecoderState* state, int64_t total_tokens) {
  if (!model_->cache().uses_pages()) return absl::OkStatus();
  return model_->mutable_cache().Reserve(static_cast<CudaState*>(state)->seq, total_tokens);
}

absl::StatusOr<std::vector<SampleResult>> CudaBackend::Step(std::span<const BackendRow> rows) {
  const int64_t h = config().hidden_size;
  int64_t n = 0;
  bool explicit_positions = false, embeddings = false, penalties = false;
  int64_t top_n = 0;
  for (const BackendRow& r : rows) {
    n += static_cast<int64_t>(r.ids.size());
    explicit_positions |= !r.positions.empty();
    embeddings |= !r.embeddings.empty();
    penalties |= r.sample && HasPenalties(r);
    if (r.sample && r.sampling != nullptr && r.sampling->logprobs > 0) {
      top_n = std::max(top_n, r.sampling->top_logprobs);
    }
  }
  std::vector<int64_t> ids, positions;
  std::vector<float> embed_rows;
  std::vector<int32_t> embed_index;
  ids.reserve(static_cast<size_t>(n));
  if (explicit_positions) positions.assign(static_cast<size_t>(3 * n), 0);
  if (embeddings) embed_index.assign(static_cast<size_t>(n), -1);
  cuda::CudaForwardBatch batch;
  std::vector<kernels::cuda::SamplingRowParams> params;
  std::vector<int32_t> offsets = {0}, pen_tokens, pen_counts;
  int64_t at = 0;
  for (const BackendRow& r : rows) {
    auto& seq = static_cast<CudaState*>(r.state)->seq;
    const int64_t len = static_cast<int64_t>(r.ids.size());
    ids.insert(ids.end(), r.ids.begin(), r.ids.end());
    batch.sequences.push_back({.length = len, .sequence = &seq});
    if (explicit_positions) {
      // The model takes explicit positions for the whole batch or none: text positions for the
      // rows that have none.
      for (int64_t j = 0; j < len; ++j) {
        for (int64_t axis = 0; axis < 3; ++axis) {
          positions[axis * n + at + j] = r.positions.empty()
                                             ? seq.num_tokens() + j + seq.rope_delta()
                                             : r.positions[axis * len + j];
        }
      }
    }
    for (size_t j = 0; j < r.embeddings.size(); ++j) {
      if (r.embeddings[j] == nullptr) continue;
      embed_index[at + static_cast<int64_t>(j)] = static_cast<int32_t>(embed_rows.size() / h);
      embed_rows.insert(embed_rows.end(), r.embeddings[j], r.embeddings[j] + h);
    }
    params.push_back(RowParams(r));
    if (penalties && r.sample && HasPenalties(r)) {
      auto* state = static_cast<CudaState*>(r.state);
      for (const auto& [token, count] : state->PenaltyCounts(r.prompt, r.generated)) {
        pen_tokens.push_back(static_cast<int32_t>(token));
        pen_counts.push_back(count);
      }
    }
    if (penalties) offsets.push_back(static_cast<int32_t>(pen_tokens.size()));
    at += len;
  }
  batch.token_ids = ids;
  batch.positions = positions;
  batch.embed_rows = embed_rows;
  batch.embed_index = embed_index;
  cuda::CudaSamplingInputs sampling{.rows = params, .num_top_logprobs = top_n};
  if (penalties) {
    sampling.penalty_offsets = offsets;
    sampling.penalty_tokens = pen_tokens;
    sampling.penalty_counts = pen_counts;
  }
  QWEN_ASSIGN_OR_RETURN(cuda::CudaSampled s, model_->ForwardSample(batch, sampling));
  std::vector<SampleResult> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const BackendRow& r = rows[i];
    if (!r.sample) continue;
    out[i].token = s.tokens[i];
    out[i].logprob = s.logprobs[i];
    if (r.sampling != nullptr && r.sampling->logprobs > 0) {
      for (int64_t k = 0; k < r.sampling->top_logprobs; ++k) {
        const int32_t token = s.top_tokens[i * top_n + k];
        if (token < 0) break;
        out[i].top_logprobs.push_back({.token = token, .logprob = s.top_logprobs[i * top_n + k]});
      }
    }
  }
  return out;
}

}  // namespace qwen::text

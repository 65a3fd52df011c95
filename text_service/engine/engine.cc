#include "text_service/engine/engine.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "core/status.h"

namespace qwen::text {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return "none";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kAbort: return "abort";
    case FinishReason::kError: return "error";
  }
  return "?";
}

struct Engine::Sequence {
  GenerateRequest req;
  StreamCallback callback;
  SamplerRng rng;
  std::unique_ptr<SequenceState> state;  // allocated when the sequence starts running
  int64_t prefilled = 0;                 // prompt tokens consumed so far
  std::vector<int64_t> generated;
  bool aborted = false;                  // guarded by Engine::mu_
  bool done = false;                     // loop thread only

  Sequence(GenerateRequest r, StreamCallback cb, uint64_t seed)
      : req(std::move(r)), callback(std::move(cb)), rng(seed) {}
  int64_t prompt_len() const { return static_cast<int64_t>(req.prompt.size()); }
  bool decoding() const { return prefilled == prompt_len(); }
};

Engine::Engine(const TextModel* model, EngineOptions options)
    : model_(model), options_(std::move(options)) {
  const int64_t model_ctx = model_->config().max_position_embeddings;
  max_context_ = options_.max_context > 0 ? std::min(options_.max_context, model_ctx) : model_ctx;
  options_.max_running = std::max<int64_t>(1, options_.max_running);
  // Every running sequence must be able to decode one token per step.
  options_.max_batched_tokens = std::max(options_.max_batched_tokens, options_.max_running);
  thread_ = std::thread([this] { Loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    accepting_ = false;
  }
  cv_.notify_all();
  thread_.join();
}

absl::Status Engine::Submit(GenerateRequest request, StreamCallback callback) {
  const core::TextConfig& c = model_->config();
  const int64_t n = static_cast<int64_t>(request.prompt.size());
  if (n == 0) return absl::InvalidArgumentError("the prompt has no tokens");
  for (int64_t i = 0; i < n; ++i) {
    if (request.prompt[i] < 0 || request.prompt[i] >= c.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("prompt token ", i, " has id ", request.prompt[i],
                                                     ", outside the vocabulary [0, ", c.vocab_size, ")"));
    }
  }
  QWEN_RETURN_IF_ERROR(request.sampling.Validate(c.vocab_size));
  if (n + request.sampling.max_tokens > max_context_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the context is ", max_context_, " tokens, but the request asks for ", n,
        " prompt tokens + max_tokens ", request.sampling.max_tokens, " = ",
        n + request.sampling.max_tokens));
  }
  if (!request.positions.empty() && static_cast<int64_t>(request.positions.size()) != 3 * n) {
    return absl::InvalidArgumentError(absl::StrCat("positions has ", request.positions.size(),
                                                   " entries; expected 3 x ", n, " prompt tokens"));
  }
  std::sort(request.embeddings.begin(), request.embeddings.end(),
            [](const EmbeddingSpan& a, const EmbeddingSpan& b) { return a.begin < b.begin; });
  int64_t covered = 0;
  for (const EmbeddingSpan& e : request.embeddings) {
    const core::Tensor& t = e.embeddings;
    if (t.dtype() != core::DType::kF32 || t.rank() != 2 || t.dim(1) != c.hidden_size) {
      return absl::InvalidArgumentError(absl::StrCat("embeddings at row ", e.begin, " must be f32 [n, ",
                                                     c.hidden_size, "], got ", core::DTypeName(t.dtype()),
                                                     " ", core::ShapeToString(t.shape())));
    }
    if (e.begin < covered || e.begin + t.dim(0) > n) {
      return absl::InvalidArgumentError(absl::StrCat("embeddings rows [", e.begin, ", ", e.begin + t.dim(0),
                                                     ") overlap another span or leave the ", n, "-token prompt"));
    }
    covered = e.begin + t.dim(0);
  }
  uint64_t seed = request.sampling.seed.value_or(
      static_cast<uint64_t>(std::hash<std::string>{}(request.request_id)) ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_) return absl::FailedPreconditionError("the engine is shutting down");
    if (live_.count(request.request_id)) {
      return absl::AlreadyExistsError(absl::StrCat("request id '", request.request_id, "' is already live"));
    }
    // A request may wait only when every state slot is taken; max_waiting bounds that queue.
    if (static_cast<int64_t>(waiting_.size() + running_.size()) >= options_.max_running + options_.max_waiting) {
      return absl::ResourceExhaustedError(absl::StrCat("the text engine queue is full (", waiting_.size(),
                                                       " waiting, ", running_.size(), " running)"));
    }
    std::string id = request.request_id;
    auto seq = std::make_unique<Sequence>(std::move(request), std::move(callback), seed);
    live_[id] = seq.get();
    waiting_.push_back(std::move(seq));
    stats_.waiting = static_cast<int64_t>(waiting_.size());
  }
  cv_.notify_all();
  return absl::OkStatus();
}

bool Engine::Abort(const std::string& request_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(request_id);
    if (it == live_.end()) return false;
    it->second->aborted = true;
  }
  cv_.notify_all();
  return true;
}

void Engine::StopAccepting() {
  std::lock_guard<std::mutex> lock(mu_);
  accepting_ = false;
}

EngineStats Engine::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Engine::Finish(Sequence& seq, FinishReason reason, absl::Status error, StreamUpdate update) {
  update.finished = true;
  update.finish_reason = reason;
  update.error = std::move(error);
  update.prompt_tokens = seq.prompt_len();
  update.completion_tokens = static_cast<int64_t>(seq.generated.size());
  seq.state.reset();  // free the KV cache and DeltaNet state before telling the caller
  seq.done = true;
  {
    // The id is reusable as soon as the caller learns the stream ended.
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(seq.req.request_id);
  }
  seq.callback(update);
}

void Engine::Loop() {
  while (true) {
    std::vector<std::unique_ptr<Sequence>> aborted_waiting;
    std::vector<Sequence*> aborted_running;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !waiting_.empty() || !running_.empty(); });
      if (stop_) {
        for (auto& s : waiting_) s->aborted = true;
        for (auto& s : running_) s->aborted = true;
        for (auto& s : waiting_) running_.push_back(std::move(s));
        waiting_.clear();
      }
      // Requests cancelled while queued leave without ever holding state.
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if ((*it)->aborted) {
          aborted_waiting.push_back(std::move(*it));
          it = waiting_.erase(it);
        } else {
          ++it;
        }
      }
      while (static_cast<int64_t>(running_.size()) < options_.max_running && !waiting_.empty()) {
        std::unique_ptr<Sequence> seq = std::move(waiting_.front());
        waiting_.pop_front();
        seq->state = std::make_unique<SequenceState>(model_->NewSequence());
        seq->state->set_rope_delta(seq->req.rope_delta);
        running_.push_back(std::move(seq));
      }
      for (auto& s : running_) {
        if (s->aborted && !s->done) aborted_running.push_back(s.get());
      }
    }
    for (auto& s : aborted_waiting) Finish(*s, FinishReason::kAbort, absl::OkStatus(), {});
    for (Sequence* s : aborted_running) Finish(*s, FinishReason::kAbort, absl::OkStatus(), {});
    std::vector<Sequence*> active;
    for (auto& s : running_) {
      if (!s->done) active.push_back(s.get());
    }
    if (!active.empty()) Step(active);

    std::lock_guard<std::mutex> lock(mu_);
    running_.erase(std::remove_if(running_.begin(), running_.end(), [](const auto& s) { return s->done; }),
                   running_.end());
    stats_.running = static_cast<int64_t>(running_.size());
    stats_.waiting = static_cast<int64_t>(waiting_.size());
    int64_t bytes = 0;
    for (auto& s : running_) bytes += s->state ? static_cast<int64_t>(s->state->MemoryBytes()) : 0;
    stats_.state_bytes = bytes;
    if (stop_ && running_.empty() && waiting_.empty()) return;
  }
}

void Engine::Step(std::vector<Sequence*>& running) {
  const core::TextConfig& c = model_->config();
  const int64_t h = c.hidden_size, vocab = c.vocab_size;
  // Decoding sequences first (one token each), then prompt chunks within the token budget.
  std::stable_partition(running.begin(), running.end(), [](Sequence* s) { return s->decoding(); });
  int64_t budget = options_.max_batched_tokens;
  std::vector<Sequence*> batch_seqs;
  std::vector<int64_t> ids, lengths;
  bool any_embeddings = false;
  for (Sequence* s : running) {
    int64_t take = s->decoding() ? 1 : std::min(budget, s->prompt_len() - s->prefilled);
    if (take <= 0) break;
    batch_seqs.push_back(s);
    lengths.push_back(take);
    if (s->decoding()) {
      ids.push_back(s->generated.back());
    } else {
      ids.insert(ids.end(), s->req.prompt.begin() + s->prefilled, s->req.prompt.begin() + s->prefilled + take);
      any_embeddings |= !s->req.embeddings.empty();
    }
    budget -= take;
  }
  const int64_t n = static_cast<int64_t>(ids.size());
  ForwardBatch batch;
  batch.token_ids = ids;
  std::vector<int64_t> positions(static_cast<size_t>(3 * n));
  core::Tensor embeds;
  if (any_embeddings) {
    embeds = core::Tensor::Zeros({n, h}, core::DType::kF32);
    model_->EmbedTokens(ids, embeds.data<float>());
  }
  int64_t row = 0;
  for (size_t i = 0; i < batch_seqs.size(); ++i) {
    Sequence* s = batch_seqs[i];
    batch.sequences.push_back(SequenceSpan{.begin = row, .length = lengths[i], .state = s->state.get()});
    for (int64_t j = 0; j < lengths[i]; ++j) {
      const int64_t p = s->prefilled + j;  // prompt row, when prefilling
      for (int axis = 0; axis < 3; ++axis) {
        positions[axis * n + row + j] =
            (!s->decoding() && !s->req.positions.empty())
                ? s->req.positions[axis * s->prompt_len() + p]
                : s->state->num_tokens() + j + s->state->rope_delta();
      }
    }
    if (any_embeddings && !s->decoding()) {
      for (const EmbeddingSpan& e : s->req.embeddings) {
        const int64_t lo = std::max(e.begin, s->prefilled);
        const int64_t hi = std::min(e.begin + e.embeddings.dim(0), s->prefilled + lengths[i]);
        for (int64_t r = lo; r < hi; ++r) {
          std::memcpy(embeds.data<float>() + (row + r - s->prefilled) * h,
                      e.embeddings.data<float>() + (r - e.begin) * h, static_cast<size_t>(h) * sizeof(float));
        }
      }
    }
    row += lengths[i];
  }
  batch.positions = positions;
  if (any_embeddings) batch.input_embeds = embeds.data<float>();

  absl::StatusOr<core::Tensor> logits =
      model_->Forward(ForwardContext{.num_threads = options_.num_threads}, batch, LogitsMode::kLast);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.steps;
  }
  if (!logits.ok()) {
    QWEN_LOG(Error) << "forward failed for a batch of " << batch_seqs.size() << " sequences: " << logits.status();
    for (Sequence* s : batch_seqs) Finish(*s, FinishReason::kError, logits.status(), {});
    return;
  }
  std::vector<float> scratch;
  int64_t new_prompt = 0, new_generated = 0;
  for (size_t i = 0; i < batch_seqs.size(); ++i) {
    Sequence* s = batch_seqs[i];
    if (!s->decoding()) {
      s->prefilled += lengths[i];
      new_prompt += lengths[i];
      if (!s->decoding()) continue;  // more prompt to go: these logits are not used
    }
    std::span<const float> row_logits(logits->data<float>() + i * vocab, static_cast<size_t>(vocab));
    SampleResult r = Sample(row_logits, s->req.sampling, s->req.prompt, s->generated, s->rng, scratch);
    s->generated.push_back(r.token);
    ++new_generated;
    StreamUpdate update;
    update.tokens.push_back(GeneratedToken{r.token, r.logprob, std::move(r.top_logprobs)});
    const SamplingParams& sp = s->req.sampling;
    bool eos = !sp.ignore_eos && std::find(options_.eos_token_ids.begin(), options_.eos_token_ids.end(),
                                           r.token) != options_.eos_token_ids.end();
    bool stop_id = std::find(sp.stop_token_ids.begin(), sp.stop_token_ids.end(), r.token) != sp.stop_token_ids.end();
    if (eos || stop_id) {
      update.matched_stop_token = r.token;
      Finish(*s, FinishReason::kStop, absl::OkStatus(), std::move(update));
    } else if (static_cast<int64_t>(s->generated.size()) >= sp.max_tokens ||
               s->state->num_tokens() + 1 > max_context_) {
      Finish(*s, FinishReason::kLength, absl::OkStatus(), std::move(update));
    } else {
      s->callback(update);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.prompt_tokens += new_prompt;
  stats_.generated_tokens += new_generated;
}

}  // namespace qwen::text

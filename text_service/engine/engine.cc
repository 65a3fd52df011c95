#include "text_service/engine/engine.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "core/status.h"

namespace qwen::text {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
    case FinishReason::kError:
      return "error";
  }
  return "?";
}

struct Engine::Sequence {
  GenerateRequest req;
  StreamCallback callback;
  SamplerRng rng;
  std::unique_ptr<DecoderState> state;  // allocated when the sequence starts running
  // Tokens in `state`: the prompt, then (after a preemption) the generated tokens replayed, then
  // one per decode step.
  int64_t fed = 0;
  std::vector<int64_t> generated;
  bool aborted = false;    // guarded by Engine::mu_
  bool done = false;       // loop thread only
  bool preempted = false;  // loop thread only: state freed, back to the queue after this step

  uint64_t seed;

  Sequence(GenerateRequest r, StreamCallback cb, uint64_t seed)
      : req(std::move(r)), callback(std::move(cb)), rng(seed), seed(seed) {}
  int64_t prompt_len() const { return static_cast<int64_t>(req.prompt.size()); }
  // Tokens the state must hold before the next token is sampled: the prompt, plus every generated
  // token but the last (which is the next step's input).
  int64_t replay_len() const {
    return prompt_len() + std::max<int64_t>(0, static_cast<int64_t>(generated.size()) - 1);
  }
  bool decoding() const { return !generated.empty() && fed == replay_len(); }
};

Engine::Engine(const TextModel* model, EngineOptions options)
    : owned_backend_(std::make_unique<CpuBackend>(model, options.num_threads)),
      backend_(owned_backend_.get()),
      options_(std::move(options)) {
  Start();
}

Engine::Engine(DecoderBackend* backend, EngineOptions options)
    : backend_(backend), options_(std::move(options)) {
  Start();
}

void Engine::Start() {
  const int64_t model_ctx = backend_->config().max_position_embeddings;
  max_context_ = options_.max_context > 0 ? std::min(options_.max_context, model_ctx) : model_ctx;
  options_.max_running =
      std::clamp<int64_t>(options_.max_running, 1, std::max<int64_t>(backend_->max_sequences(), 1));
  options_.max_batched_tokens = std::min(options_.max_batched_tokens, backend_->max_step_tokens());
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
  const core::TextConfig& c = backend_->config();
  const int64_t n = static_cast<int64_t>(request.prompt.size());
  if (n == 0) return absl::InvalidArgumentError("the prompt has no tokens");
  for (int64_t i = 0; i < n; ++i) {
    if (request.prompt[i] < 0 || request.prompt[i] >= c.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("prompt token ", i, " has id ", request.prompt[i],
                       ", outside the vocabulary [0, ", c.vocab_size, ")"));
    }
  }
  QWEN_RETURN_IF_ERROR(request.sampling.Validate(c.vocab_size));
  if (n + request.sampling.max_tokens > max_context_) {
    return absl::InvalidArgumentError(
        absl::StrCat("the context is ", max_context_, " tokens, but the request asks for ", n,
                     " prompt tokens + max_tokens ", request.sampling.max_tokens, " = ",
                     n + request.sampling.max_tokens));
  }
  if (n + request.sampling.max_tokens > backend_->max_sequence_tokens()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the decoder's cache holds at most ", backend_->max_sequence_tokens(),
        " tokens of one sequence, but the request asks for ", n, " prompt tokens + max_tokens ",
        request.sampling.max_tokens, " = ", n + request.sampling.max_tokens));
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
      return absl::InvalidArgumentError(
          absl::StrCat("embeddings at row ", e.begin, " must be f32 [n, ", c.hidden_size, "], got ",
                       core::DTypeName(t.dtype()), " ", core::ShapeToString(t.shape())));
    }
    if (e.begin < covered || e.begin + t.dim(0) > n) {
      return absl::InvalidArgumentError(
          absl::StrCat("embeddings rows [", e.begin, ", ", e.begin + t.dim(0),
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
      return absl::AlreadyExistsError(
          absl::StrCat("request id '", request.request_id, "' is already live"));
    }
    // A request may wait only when every state slot is taken; max_waiting bounds that queue.
    if (static_cast<int64_t>(waiting_.size() + running_.size()) >=
        options_.max_running + options_.max_waiting) {
      return absl::ResourceExhaustedError(absl::StrCat("the text engine queue is full (",
                                                       waiting_.size(), " waiting, ",
                                                       running_.size(), " running)"));
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
  if (seq.state != nullptr) admission_paused_ = false;  // its cache is free again
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
    std::vector<std::pair<std::unique_ptr<Sequence>, absl::Status>> failed_start;
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
        if (admission_paused_ && !running_.empty()) break;
        Sequence& next = *waiting_.front();
        absl::StatusOr<std::unique_ptr<DecoderState>> state =
            backend_->NewState(next.req.rope_delta, AdmissionReserve(next));
        if (!state.ok() && absl::IsResourceExhausted(state.status()) && !running_.empty()) {
          // Not enough cache free now: the request (and, first in, first out, those behind it)
          // waits for running ones to finish. Submit rejected what can never fit, so with nothing
          // running this cannot happen.
          break;
        }
        std::unique_ptr<Sequence> seq = std::move(waiting_.front());
        waiting_.pop_front();
        if (!state.ok()) {
          QWEN_LOG(Error) << "no decoder state for request " << seq->req.request_id << ": "
                          << state.status();
          seq->aborted = true;
          failed_start.emplace_back(std::move(seq), state.status());
          continue;
        }
        seq->state = std::move(*state);
        seq->preempted = false;
        running_.push_back(std::move(seq));
      }
      for (auto& s : running_) {
        if (s->aborted && !s->done) aborted_running.push_back(s.get());
      }
    }
    for (auto& s : aborted_waiting) Finish(*s, FinishReason::kAbort, absl::OkStatus(), {});
    for (auto& [s, status] : failed_start) Finish(*s, FinishReason::kError, status, {});
    for (Sequence* s : aborted_running) Finish(*s, FinishReason::kAbort, absl::OkStatus(), {});
    std::vector<Sequence*> active;
    for (auto& s : running_) {
      if (!s->done) active.push_back(s.get());
    }
    if (!active.empty()) Step(active);

    std::lock_guard<std::mutex> lock(mu_);
    // Preempted sequences go back to the front of the queue, the earliest admitted first.
    for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
      if ((*it)->preempted && !(*it)->done) waiting_.push_front(std::move(*it));
    }
    running_.erase(std::remove_if(running_.begin(), running_.end(),
                                  [](const auto& s) { return s == nullptr || s->done; }),
                   running_.end());
    stats_.running = static_cast<int64_t>(running_.size());
    stats_.waiting = static_cast<int64_t>(waiting_.size());
    int64_t bytes = 0;
    for (auto& s : running_) bytes += s->state ? static_cast<int64_t>(s->state->MemoryBytes()) : 0;
    stats_.state_bytes = bytes;
    if (stop_ && running_.empty() && waiting_.empty()) return;
  }
}

int64_t Engine::AdmissionReserve(const Sequence& seq) const {
  const int64_t budget = seq.prompt_len() + seq.req.sampling.max_tokens;
  if (options_.decode_reserve_tokens <= 0) return budget;
  return std::min(budget, seq.replay_len() + 1 + options_.decode_reserve_tokens);
}

void Engine::Preempt(Sequence& seq) {
  QWEN_LOG(Info) << "preempting request " << seq.req.request_id << " (" << seq.fed
                 << " tokens of state) to make room in the decoder's cache; it recomputes them "
                    "when readmitted";
  seq.state.reset();
  seq.fed = 0;
  seq.preempted = true;
  admission_paused_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.preemptions;
}

void Engine::ReserveOrPreempt(std::vector<Sequence*>& batch, std::vector<int64_t>& lengths) {
  for (size_t i = 0; i < batch.size(); ++i) {
    Sequence* s = batch[i];
    while (!s->preempted && !s->done) {
      const absl::Status room = backend_->Reserve(s->state.get(), s->fed + lengths[i]);
      if (room.ok()) break;
      if (!absl::IsResourceExhausted(room)) {
        QWEN_LOG(Error) << "no cache for request " << s->req.request_id << ": " << room;
        Finish(*s, FinishReason::kError, room, {});
        break;
      }
      // The newest sequence still holding state makes room: s itself when nothing newer is left.
      // Submit admitted only requests that fit the cache alone, so this ends.
      Sequence* victim = s;
      for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
        Sequence* c = it->get();
        if (c->state != nullptr && !c->done && !c->preempted) {
          victim = c;
          break;
        }
      }
      Preempt(*victim);
    }
  }
  size_t kept = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i]->preempted || batch[i]->done) continue;
    batch[kept] = batch[i];
    lengths[kept] = lengths[i];
    ++kept;
  }
  batch.resize(kept);
  lengths.resize(kept);
}

void Engine::Step(std::vector<Sequence*>& running) {
  // Decoding sequences first (one token each), then prompt chunks within the token budget.
  std::stable_partition(running.begin(), running.end(), [](Sequence* s) { return s->decoding(); });
  int64_t budget = options_.max_batched_tokens;
  std::vector<Sequence*> batch_seqs;
  std::vector<BackendRow> rows;
  std::vector<int64_t> lengths;
  std::vector<std::vector<int64_t>> positions;            // per row, [3, len] when explicit
  std::vector<std::vector<const float*>> embedding_rows;  // per row, per token
  for (Sequence* s : running) {
    int64_t take = 1;
    if (!s->decoding()) {
      // Prompt chunks carry the prompt's positions and embeddings: a chunk never runs on into the
      // generated tokens that a preempted sequence replays.
      const int64_t end = s->fed < s->prompt_len() ? s->prompt_len() : s->replay_len();
      take = std::min(budget, end - s->fed);
    }
    if (take <= 0) break;
    batch_seqs.push_back(s);
    lengths.push_back(take);
    budget -= take;
  }
  ReserveOrPreempt(batch_seqs, lengths);
  if (batch_seqs.empty()) return;
  rows.reserve(batch_seqs.size());
  positions.resize(batch_seqs.size());
  embedding_rows.resize(batch_seqs.size());
  const int64_t h = backend_->config().hidden_size;
  for (size_t i = 0; i < batch_seqs.size(); ++i) {
    Sequence* s = batch_seqs[i];
    const int64_t take = lengths[i];
    BackendRow r{.state = s->state.get(),
                 .sampling = &s->req.sampling,
                 .prompt = s->req.prompt,
                 .generated = s->generated,
                 .rng = &s->rng,
                 .seed = s->seed};
    if (s->decoding()) {
      r.ids = std::span<const int64_t>(&s->generated.back(), 1);
      r.sample = true;
    } else if (s->fed >= s->prompt_len()) {
      // Generated tokens replayed after a preemption: text positions, nothing sampled.
      r.ids =
          std::span<const int64_t>(s->generated)
              .subspan(static_cast<size_t>(s->fed - s->prompt_len()), static_cast<size_t>(take));
    } else {
      const int64_t p0 = s->fed;
      r.ids = std::span<const int64_t>(s->req.prompt)
                  .subspan(static_cast<size_t>(p0), static_cast<size_t>(take));
      // The last chunk yields the first token (a replayed sequence has it already).
      r.sample = s->generated.empty() && p0 + take == s->prompt_len();
      if (!s->req.positions.empty()) {
        positions[i].resize(static_cast<size_t>(3 * take));
        for (int axis = 0; axis < 3; ++axis) {
          for (int64_t j = 0; j < take; ++j) {
            positions[i][axis * take + j] = s->req.positions[axis * s->prompt_len() + p0 + j];
          }
        }
        r.positions = positions[i];
      }
      if (!s->req.embeddings.empty()) {
        embedding_rows[i].assign(static_cast<size_t>(take), nullptr);
        for (const EmbeddingSpan& e : s->req.embeddings) {
          const int64_t lo = std::max(e.begin, p0);
          const int64_t hi = std::min(e.begin + e.embeddings.dim(0), p0 + take);
          for (int64_t t = lo; t < hi; ++t) {
            embedding_rows[i][t - p0] = e.embeddings.data<float>() + (t - e.begin) * h;
          }
        }
        r.embeddings = embedding_rows[i];
      }
    }
    rows.push_back(r);
  }

  absl::StatusOr<std::vector<SampleResult>> sampled = backend_->Step(rows);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.steps;
  }
  if (!sampled.ok()) {
    QWEN_LOG(Error) << "forward failed for a batch of " << batch_seqs.size()
                    << " sequences: " << sampled.status();
    for (Sequence* s : batch_seqs) Finish(*s, FinishReason::kError, sampled.status(), {});
    return;
  }
  int64_t new_prompt = 0, new_generated = 0;
  for (size_t i = 0; i < batch_seqs.size(); ++i) {
    Sequence* s = batch_seqs[i];
    if (!s->decoding()) new_prompt += lengths[i];
    s->fed += lengths[i];
    if (!rows[i].sample) continue;  // more prompt (or replay) to go: these logits are not used
    SampleResult r = std::move((*sampled)[i]);
    s->generated.push_back(r.token);
    ++new_generated;
    StreamUpdate update;
    update.tokens.push_back(GeneratedToken{r.token, r.logprob, std::move(r.top_logprobs)});
    const SamplingParams& sp = s->req.sampling;
    bool eos = !sp.ignore_eos &&
               std::find(options_.eos_token_ids.begin(), options_.eos_token_ids.end(), r.token) !=
                   options_.eos_token_ids.end();
    bool stop_id = std::find(sp.stop_token_ids.begin(), sp.stop_token_ids.end(), r.token) !=
                   sp.stop_token_ids.end();
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

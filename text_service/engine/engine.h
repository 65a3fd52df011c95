// The text engine: continuous batching of many requests over one decoder (the CPU TextModel or the
// CUDA model, through DecoderBackend). New requests join
// between steps; each step runs every decoding sequence (one token each) plus prompt chunks of
// prefilling sequences, in one flattened batch. Finished, aborted or failed requests leave without
// disturbing the others, and their state is freed on every exit path. On a bounded cache (the
// CUDA KV pages) a sequence reserves room as it grows; when there is none, the most recently
// admitted sequences are preempted (state freed, requeued first, recomputed on readmission), and
// admission pauses until a running sequence finishes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "text_service/engine/cpu_backend.h"
#include "text_service/engine/decoder_backend.h"
#include "text_service/engine/request.h"
#include "text_service/engine/sampler.h"
#include "text_service/model/text_model.h"

namespace qwen::text {

struct EngineOptions {
  int64_t max_running = 64;            // sequences holding state at once (state slots)
  int64_t max_waiting = 256;           // queued requests beyond that; more is RESOURCE_EXHAUSTED
  int64_t max_batched_tokens = 2048;   // tokens per step (decode tokens + prefill chunks)
  int64_t max_context = 0;             // prompt + generated limit; 0 = the model's
  std::vector<int64_t> eos_token_ids;  // from generation_config.json
  int num_threads = 1;                 // CPU GEMM threads (CPU model only)
  // Generation room a sequence reserves when it is admitted, beyond its prompt and first token. A
  // backend with a bounded cache (the CUDA KV pages) then grows each reservation step by step;
  // when the cache runs out, the most recently admitted sequences are preempted: their state is
  // freed and they requeue first in line, to recompute prompt + generated tokens on readmission
  // and stream exactly the tokens they would have. 0 reserves the whole max_tokens at admission:
  // never preempts, but admits fewer sequences when max_tokens is large.
  int64_t decode_reserve_tokens = 256;
};

struct EngineStats {
  int64_t running = 0;
  int64_t waiting = 0;
  int64_t state_bytes = 0;  // memory held by live sequences' states (host or device)
  int64_t steps = 0;
  int64_t prompt_tokens = 0;  // totals since start
  int64_t generated_tokens = 0;
  int64_t preemptions = 0;  // sequences whose state was freed to make room (then recomputed)
};

class Engine {
 public:
  // Runs on the CPU model (`model` must outlive the engine).
  Engine(const TextModel* model, EngineOptions options);
  // Runs on `backend` (must outlive the engine). max_running and max_batched_tokens are capped
  // by the backend's limits.
  Engine(DecoderBackend* backend, EngineOptions options);
  ~Engine();  // Aborts what is left and joins the loop thread.
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates and queues a request. InvalidArgument: empty prompt, token ids outside the
  // vocabulary, bad sampling parameters, prompt + max_tokens over the context, malformed
  // embeddings/positions. AlreadyExists: a live request has this id. ResourceExhausted: the
  // waiting queue is full. FailedPrecondition: the engine is shutting down. On success the
  // callback will receive exactly one finished update.
  absl::Status Submit(GenerateRequest request, StreamCallback callback);
  // Cancels a live request (its stream finishes with kAbort). False if no such live request.
  bool Abort(const std::string& request_id);
  // Stops accepting requests; live ones still run to completion.
  void StopAccepting();
  EngineStats Stats() const;
  int64_t max_context() const { return max_context_; }
  const DecoderBackend& backend() const { return *backend_; }

 private:
  struct Sequence;
  void Start();  // the constructors' shared set-up; starts the loop thread
  void Loop();
  // One scheduling + forward + sampling step over the live sequences. Called without mu_ held.
  void Step(std::vector<Sequence*>& running);
  // Grows the reservations of `batch` for `lengths` new tokens each, preempting the most recently
  // admitted sequences (possibly ones of `batch`) while the cache is out of room. Drops preempted
  // and failed sequences from `batch` and `lengths`. Loop thread only.
  void ReserveOrPreempt(std::vector<Sequence*>& batch, std::vector<int64_t>& lengths);
  void Preempt(Sequence& seq);
  // Tokens `seq` reserves when it is admitted (EngineOptions::decode_reserve_tokens).
  int64_t AdmissionReserve(const Sequence& seq) const;
  void Finish(Sequence& seq, FinishReason reason, absl::Status error, StreamUpdate update);

  std::unique_ptr<CpuBackend> owned_backend_;  // the TextModel constructor's
  DecoderBackend* backend_;
  EngineOptions options_;
  int64_t max_context_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Sequence>> waiting_;   // guarded by mu_
  std::map<std::string, Sequence*> live_;           // guarded by mu_ (waiting + running)
  std::vector<std::unique_ptr<Sequence>> running_;  // owned by the loop thread
  bool accepting_ = true;                           // guarded by mu_
  bool stop_ = false;                               // guarded by mu_
  // Set by a preemption, cleared when a running sequence finishes: admitting more while the cache
  // is oversubscribed would only preempt again (and recompute again).
  bool admission_paused_ = false;  // loop thread only
  EngineStats stats_;              // guarded by mu_
  std::thread thread_;
};

}  // namespace qwen::text

// The text engine: continuous batching of many requests over one decoder (the CPU TextModel or the
// CUDA model, through DecoderBackend). New requests join
// between steps; each step runs every decoding sequence (one token each) plus prompt chunks of
// prefilling sequences, in one flattened batch. Finished, aborted or failed requests leave without
// disturbing the others, and their state is freed on every exit path.
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
};

struct EngineStats {
  int64_t running = 0;
  int64_t waiting = 0;
  int64_t state_bytes = 0;  // memory held by live sequences' states (host or device)
  int64_t steps = 0;
  int64_t prompt_tokens = 0;  // totals since start
  int64_t generated_tokens = 0;
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
  EngineStats stats_;                               // guarded by mu_
  std::thread thread_;
};

}  // namespace qwen::text

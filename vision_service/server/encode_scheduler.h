// The encode scheduler: requests of N media items are hashed and looked up in the result cache,
// missing items are pre-processed on a worker pool, and one batcher thread runs the encoder over a
// varlen batch gathered across concurrent requests (up to max_batch_patches, waiting at most
// batch_wait for more after the first item is ready), then splits the output back per item.
// Results are delivered per request in item order as soon as each is ready. No gRPC in here.
//
// Request states: waiting (admitted, no item picked up by a worker yet) -> running -> done.
// Cancel() drops the request's queued work at once (pre-processing queue and encoder queue); an
// item already in an encoder batch finishes and is cached but not delivered.
#pragma once

#include <chrono>
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
#include "absl/status/statusor.h"
#include "vision_service/server/batch_encoder.h"
#include "vision_service/server/embedding_cache.h"
#include "vision_service/server/encode_types.h"
#include "vision_service/server/media_preprocessor.h"

namespace qwen::vision {

struct SchedulerOptions {
  int preprocess_threads = 2;
  int64_t max_batch_patches = 16384;  // pre-merge patches per encoder call (one item may exceed it)
  std::chrono::milliseconds batch_wait{5};
  size_t cache_bytes = size_t{1} << 30;
  // Pre-processed patches waiting for the encoder before workers pause (0 = 4 x max_batch_patches).
  int64_t max_ready_patches = 0;
};

// Receives one request's results. OnItem comes in item order, from scheduler threads, never
// concurrently for one request; OnDone comes exactly once and last — after it the scheduler no
// longer touches the request's MediaInput views or the observer. Must not block.
class EncodeObserver {
 public:
  virtual ~EncodeObserver() = default;
  virtual void OnItem(int64_t index, const ItemResult& result) = 0;
  virtual void OnDone(const absl::Status& status) = 0;
};

struct SchedulerStats {
  int64_t running = 0;  // requests being worked on
  int64_t waiting = 0;  // requests admitted, no item started
  int64_t queued_items = 0;      // waiting for a pre-processing worker
  int64_t ready_items = 0;       // pre-processed, waiting for the encoder
  int64_t batches = 0;           // encoder calls
  int64_t multi_request_batches = 0;  // encoder calls holding items of more than one request
  int64_t max_batch_items = 0;
  int64_t batched_items = 0;     // items encoded (sum over batches)
  int64_t items_image = 0;       // items delivered, by kind
  int64_t items_video = 0;
  int64_t dropped_items = 0;     // queued items thrown away by a cancel or failure
  int64_t requests_done = 0;
  CacheStats cache;
};

class EncodeScheduler {
 public:
  // `encoder` and `preprocessor` must outlive the scheduler. Starts the threads.
  EncodeScheduler(BatchEncoder* encoder, const MediaPreprocessor* preprocessor, SchedulerOptions options);
  // Stops the threads; requests still open end with Unavailable.
  ~EncodeScheduler();
  EncodeScheduler(const EncodeScheduler&) = delete;
  EncodeScheduler& operator=(const EncodeScheduler&) = delete;

  // Admits a request. Errors (no callbacks follow): InvalidArgument (no items, too many, an item
  // breaking a limit: message names items[i]), ResourceExhausted (max_queue requests already
  // waiting), Unavailable (stopped accepting). On success callbacks may start before this returns.
  absl::StatusOr<uint64_t> Submit(std::string request_id, std::vector<MediaInput> items, EncodeObserver* observer);
  // Ends the request with `reason` (Cancelled, DeadlineExceeded, ...) and drops its queued work.
  // No-op for an unknown or finished id. OnDone may be called from inside Cancel.
  void Cancel(uint64_t id, absl::Status reason);
  // New requests get Unavailable (drain).
  void StopAccepting();
  SchedulerStats stats() const;
  const EncoderInfo& encoder_info() const { return info_; }

 private:
  struct Job;
  struct ReadyItem;
  struct WorkItem {
    std::shared_ptr<Job> job;
    int64_t index = 0;
  };

  void WorkerLoop();
  void BatcherLoop();
  void RunBatch(std::vector<ReadyItem> batch);
  // Stores an item's result (an error fails its request) and delivers; `release_worker` when a
  // pre-processing worker lets go of the request's media.
  void CompleteItem(const std::shared_ptr<Job>& job, int64_t index, absl::StatusOr<ItemResult> result,
                    bool release_worker);
  void FailJobLocked(Job& job, absl::Status status);
  void PurgeLocked(const Job& job);
  // Hands the request's ready results (in order) and, when finished, OnDone to the observer.
  void Deliver(const std::shared_ptr<Job>& job);

  BatchEncoder* const encoder_;
  const MediaPreprocessor* const preprocessor_;
  const SchedulerOptions options_;
  const EncoderInfo info_;
  EmbeddingCache cache_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // workers: queue non-empty / backpressure released / stop
  std::condition_variable batch_cv_;  // batcher: ready items / stop
  bool stop_ = false;
  bool accepting_ = true;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Job>> jobs_;
  std::deque<WorkItem> work_queue_;
  std::deque<ReadyItem> ready_;
  int64_t ready_patches_ = 0;
  SchedulerStats counters_;  // only the monotonic counters are kept here
  std::vector<std::thread> workers_;
  std::thread batcher_;
};

}  // namespace qwen::vision

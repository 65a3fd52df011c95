#include "vision_service/server/encode_scheduler.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/logging.h"

namespace qwen::vision {

using Clock = std::chrono::steady_clock;

namespace {
double Seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}
}  // namespace

struct EncodeScheduler::Job {
  uint64_t id = 0;
  std::string request_id;
  EncodeObserver* observer = nullptr;
  std::vector<MediaInput> inputs;
  // Everything below is guarded by EncodeScheduler::mu_.
  std::vector<std::optional<ItemResult>> results;
  size_t next_deliver = 0;
  int in_progress = 0;   // workers currently reading `inputs`
  bool started = false;  // an item was picked up (waiting -> running)
  bool failed = false;
  absl::Status status;
  bool done = false;        // OnDone handed out
  bool delivering = false;  // a thread is running this request's callbacks
  bool redeliver = false;   // more to deliver arrived while it was
};

struct EncodeScheduler::ReadyItem {
  std::shared_ptr<Job> job;
  int64_t index = 0;
  MediaKind kind = MediaKind::kImage;
  PreparedItem prepared;
  std::string content_hash;
  std::string cache_key;
  Clock::time_point work_start;
  Clock::time_point ready_at;
  int64_t grid_patches() const { return prepared.grid.num_patches(); }
  bool order_after(const ReadyItem& o) const {
    return job->id != o.job->id ? job->id > o.job->id : index > o.index;
  }
};

EncodeScheduler::EncodeScheduler(BatchEncoder* encoder, const MediaPreprocessor* preprocessor,
                                 SchedulerOptions options)
    : encoder_(encoder),
      preprocessor_(preprocessor),
      options_(std::move(options)),
      info_(encoder->info()),
      cache_(options_.cache_bytes) {
  const int threads = std::max(1, options_.preprocess_threads);
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  batcher_ = std::thread([this] { BatcherLoop(); });
}

EncodeScheduler::~EncodeScheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    accepting_ = false;
  }
  work_cv_.notify_all();
  batch_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  batcher_.join();
  std::vector<std::shared_ptr<Job>> rest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, job] : jobs_) {
      FailJobLocked(*job, absl::UnavailableError("the vision encoder is shutting down"));
      rest.push_back(job);
    }
  }
  for (const auto& job : rest) Deliver(job);
}

absl::StatusOr<uint64_t> EncodeScheduler::Submit(std::string request_id, std::vector<MediaInput> items,
                                                 EncodeObserver* observer) {
  const EncodeLimits& limits = preprocessor_->limits();
  const int64_t n = static_cast<int64_t>(items.size());
  if (n == 0) return absl::InvalidArgumentError("the request has no items");
  if (n > limits.max_items_per_request) {
    return absl::InvalidArgumentError(absl::StrCat("items[", limits.max_items_per_request, "]: the request has ", n,
                                                   " items, more than max_items_per_request = ",
                                                   limits.max_items_per_request));
  }
  for (int64_t i = 0; i < n; ++i) {
    absl::Status s = preprocessor_->Validate(i, items[i]);
    if (!s.ok()) return s;
  }
  auto job = std::make_shared<Job>();
  job->request_id = std::move(request_id);
  job->observer = observer;
  job->inputs = std::move(items);
  job->results.resize(n);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_) {
      return absl::UnavailableError("the vision service is draining: retry on another replica");
    }
    const int64_t waiting = static_cast<int64_t>(std::count_if(
        jobs_.begin(), jobs_.end(), [](const auto& kv) { return !kv.second->started; }));
    if (waiting >= limits.max_queue) {
      return absl::ResourceExhaustedError(absl::StrCat("the vision encode queue is full: ", waiting,
                                                       " requests waiting, max_queue = ", limits.max_queue));
    }
    job->id = next_id_++;
    jobs_[job->id] = job;
    for (int64_t i = 0; i < n; ++i) work_queue_.push_back({job, i});
  }
  work_cv_.notify_all();
  return job->id;
}

void EncodeScheduler::Cancel(uint64_t id, absl::Status reason) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    job = it->second;
    FailJobLocked(*job, std::move(reason));
  }
  Deliver(job);
}

void EncodeScheduler::StopAccepting() {
  std::lock_guard<std::mutex> lock(mu_);
  accepting_ = false;
}

SchedulerStats EncodeScheduler::stats() const {
  SchedulerStats s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = counters_;
    for (const auto& [id, job] : jobs_) ++(job->started ? s.running : s.waiting);
    s.queued_items = static_cast<int64_t>(work_queue_.size());
    s.ready_items = static_cast<int64_t>(ready_.size());
  }
  s.cache = cache_.stats();
  return s;
}

void EncodeScheduler::FailJobLocked(Job& job, absl::Status status) {
  if (job.failed || job.done) return;
  job.failed = true;
  job.status = std::move(status);
  PurgeLocked(job);
}

void EncodeScheduler::PurgeLocked(const Job& job) {
  const auto before = work_queue_.size() + ready_.size();
  std::erase_if(work_queue_, [&](const WorkItem& w) { return w.job.get() == &job; });
  std::erase_if(ready_, [&](const ReadyItem& r) {
    if (r.job.get() != &job) return false;
    ready_patches_ -= r.grid_patches();
    return true;
  });
  counters_.dropped_items += static_cast<int64_t>(before - work_queue_.size() - ready_.size());
  work_cv_.notify_all();
  batch_cv_.notify_all();
}

void EncodeScheduler::WorkerLoop() {
  const int64_t max_ready =
      options_.max_ready_patches > 0 ? options_.max_ready_patches : 4 * std::max<int64_t>(1, options_.max_batch_patches);
  while (true) {
    WorkItem w;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || (!work_queue_.empty() && ready_patches_ < max_ready); });
      if (stop_) return;
      w = std::move(work_queue_.front());
      work_queue_.pop_front();
      w.job->started = true;
      ++w.job->in_progress;
    }
    const Clock::time_point start = Clock::now();
    const MediaInput& input = w.job->inputs[w.index];
    std::string hash = MediaPreprocessor::ContentHash(input);
    std::string key = preprocessor_->CacheKey(input, hash);
    if (std::shared_ptr<const EncodedItem> hit = cache_.Lookup(key)) {
      CompleteItem(w.job, w.index, ItemResult{.item = std::move(hit), .cache_hit = true,
                                              .encode_s = Seconds(start, Clock::now())},
                   /*release_worker=*/true);
      continue;
    }
    absl::StatusOr<PreparedItem> prepared = preprocessor_->Prepare(w.index, input);
    if (prepared.ok() && prepared->pixels.dim(1) != info_.patch_dim) {
      prepared = absl::InternalError(absl::StrCat("items[", w.index, "]: pre-processing produced rows of ",
                                                  prepared->pixels.dim(1), " values, the encoder expects ",
                                                  info_.patch_dim));
    }
    if (!prepared.ok()) {
      CompleteItem(w.job, w.index, prepared.status(), /*release_worker=*/true);
      continue;
    }
    bool deliver = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      --w.job->in_progress;
      if (w.job->failed) {
        ++counters_.dropped_items;
        deliver = true;  // the request may have been waiting for this worker to let go
      } else {
        ReadyItem r{.job = w.job, .index = w.index, .kind = input.kind, .prepared = std::move(*prepared),
                    .content_hash = std::move(hash), .cache_key = std::move(key), .work_start = start,
                    .ready_at = Clock::now()};
        ready_patches_ += r.grid_patches();
        // Older requests first, and a request's items in order (they are streamed in order).
        auto pos = ready_.end();
        while (pos != ready_.begin() && std::prev(pos)->order_after(r)) --pos;
        ready_.insert(pos, std::move(r));
      }
    }
    if (deliver) {
      Deliver(w.job);
    } else {
      batch_cv_.notify_one();
    }
  }
}

void EncodeScheduler::BatcherLoop() {
  const int64_t max_patches = std::max<int64_t>(1, options_.max_batch_patches);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    batch_cv_.wait(lock, [&] { return stop_ || !ready_.empty(); });
    if (stop_) return;
    // Wait (at most batch_wait after the oldest ready item) for a fuller batch.
    Clock::time_point oldest = ready_.front().ready_at;
    for (const ReadyItem& r : ready_) oldest = std::min(oldest, r.ready_at);
    const Clock::time_point deadline = oldest + options_.batch_wait;
    batch_cv_.wait_until(lock, deadline,
                         [&] { return stop_ || ready_.empty() || ready_patches_ >= max_patches; });
    if (stop_) return;
    if (ready_.empty()) continue;  // cancelled meanwhile
    std::vector<ReadyItem> batch;
    int64_t patches = 0;
    while (!ready_.empty()) {
      const int64_t n = ready_.front().grid_patches();
      if (!batch.empty() && patches + n > max_patches) break;
      patches += n;
      batch.push_back(std::move(ready_.front()));
      ready_.pop_front();
    }
    ready_patches_ -= patches;
    lock.unlock();
    work_cv_.notify_all();  // backpressure released
    RunBatch(std::move(batch));
    lock.lock();
  }
}

namespace {

// Splits a batch output into per-item owning tensors; checks the shapes the encoder returned.
absl::StatusOr<std::vector<core::Tensor>> SplitOutput(const BatchEncoderOutput& out, std::span<const ItemGrid> grids,
                                                      const EncoderInfo& info) {
  const size_t n = grids.size();
  const core::Tensor embeds = out.embeds.dtype() == core::DType::kF32 ? out.embeds : out.embeds.ToF32();
  const int64_t hidden = info.out_hidden_size;
  if (embeds.rank() != 2 || embeds.dim(1) != hidden || out.item_offsets.size() != n + 1 ||
      out.item_offsets.front() != 0 || out.item_offsets.back() != embeds.dim(0)) {
    return absl::InternalError(absl::StrCat("the encoder returned embeddings ", core::ShapeToString(embeds.shape()),
                                            " with ", out.item_offsets.size(), " offsets for ", n, " items"));
  }
  const int64_t m2 = info.spatial_merge_size * info.spatial_merge_size;
  std::vector<core::Tensor> items;
  items.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t begin = out.item_offsets[i], end = out.item_offsets[i + 1];
    if (end - begin != grids[i].num_patches() / m2) {
      return absl::InternalError(absl::StrCat("the encoder returned ", end - begin, " tokens for an item of ",
                                              grids[i].num_patches(), " patches"));
    }
    core::Tensor t = core::Tensor::Zeros({end - begin, hidden}, core::DType::kF32);
    std::memcpy(t.raw_data(), embeds.data<float>() + begin * hidden, t.nbytes());
    items.push_back(std::move(t));
  }
  return items;
}

core::Tensor Concat(const std::vector<const core::Tensor*>& parts, int64_t rows, int64_t width) {
  if (parts.size() == 1) return *parts[0];
  core::Tensor out = core::Tensor::Zeros({rows, width}, core::DType::kF32);
  char* dst = static_cast<char*>(out.raw_data());
  for (const core::Tensor* p : parts) {
    std::memcpy(dst, p->raw_data(), p->nbytes());
    dst += p->nbytes();
  }
  return out;
}

}  // namespace

void EncodeScheduler::RunBatch(std::vector<ReadyItem> batch) {
  const size_t n = batch.size();
  std::vector<ItemGrid> grids;
  std::vector<const core::Tensor*> parts;
  int64_t rows = 0;
  std::set<const Job*> jobs;
  for (const ReadyItem& r : batch) {
    grids.push_back(r.prepared.grid);
    parts.push_back(&r.prepared.pixels);
    rows += r.prepared.pixels.dim(0);
    jobs.insert(r.job.get());
  }
  const Clock::time_point start = Clock::now();
  std::vector<absl::StatusOr<core::Tensor>> embeds(n, absl::UnknownError("not encoded"));
  absl::StatusOr<std::vector<core::Tensor>> split = absl::UnknownError("not encoded");
  {
    absl::StatusOr<BatchEncoderOutput> out = encoder_->Encode(Concat(parts, rows, info_.patch_dim), grids);
    split = out.ok() ? SplitOutput(*out, grids, info_) : absl::StatusOr<std::vector<core::Tensor>>(out.status());
  }
  if (split.ok()) {
    for (size_t i = 0; i < n; ++i) embeds[i] = std::move((*split)[i]);
  } else if (n == 1) {
    embeds[0] = split.status();
  } else {
    // One bad item must not fail its batch-mates: encode each alone.
    QWEN_LOG(Warning) << "batch of " << n << " items failed (" << split.status() << "); encoding them one by one";
    for (size_t i = 0; i < n; ++i) {
      std::span<const ItemGrid> one(&grids[i], 1);
      absl::StatusOr<BatchEncoderOutput> out = encoder_->Encode(*parts[i], one);
      absl::StatusOr<std::vector<core::Tensor>> s =
          out.ok() ? SplitOutput(*out, one, info_) : absl::StatusOr<std::vector<core::Tensor>>(out.status());
      embeds[i] = s.ok() ? absl::StatusOr<core::Tensor>(std::move((*s)[0])) : s.status();
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.batches;
    if (jobs.size() > 1) ++counters_.multi_request_batches;
    counters_.max_batch_items = std::max<int64_t>(counters_.max_batch_items, static_cast<int64_t>(n));
    counters_.batched_items += static_cast<int64_t>(n);
  }
  QWEN_LOG(Debug) << "encoder batch: " << n << " items, " << rows << " patches, " << jobs.size()
                  << " requests (first request_id=" << batch.front().job->request_id << "), "
                  << Seconds(start, Clock::now()) << " s";
  const int64_t m2 = info_.spatial_merge_size * info_.spatial_merge_size;
  for (size_t i = 0; i < n; ++i) {
    ReadyItem& r = batch[i];
    r.prepared.pixels = core::Tensor();  // free the pixels before handing results out
    if (!embeds[i].ok()) {
      const absl::Status& s = embeds[i].status();
      CompleteItem(r.job, r.index,
                   absl::Status(s.code(), absl::StrCat("items[", r.index, "]: encoder: ", std::string(s.message()))),
                   /*release_worker=*/false);
      continue;
    }
    auto item = std::make_shared<EncodedItem>();
    item->kind = r.kind;
    item->content_hash = std::move(r.content_hash);
    item->grid = r.prepared.grid;
    item->num_tokens = r.prepared.grid.num_patches() / m2;
    item->hidden_size = info_.out_hidden_size;
    item->timestamps = std::move(r.prepared.timestamps);
    item->embeds = std::move(*embeds[i]);
    cache_.Insert(r.cache_key, item);  // also when the request was cancelled meanwhile
    CompleteItem(r.job, r.index,
                 ItemResult{.item = std::move(item), .cache_hit = false,
                            .encode_s = Seconds(r.work_start, Clock::now())},
                 /*release_worker=*/false);
  }
}

void EncodeScheduler::CompleteItem(const std::shared_ptr<Job>& job, int64_t index, absl::StatusOr<ItemResult> result,
                                   bool release_worker) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (release_worker) --job->in_progress;
    if (!job->failed && !job->done) {
      if (result.ok()) {
        job->results[index] = std::move(*result);
      } else {
        FailJobLocked(*job, result.status());
      }
    }
  }
  Deliver(job);
}

void EncodeScheduler::Deliver(const std::shared_ptr<Job>& job) {
  std::unique_lock<std::mutex> lock(mu_);
  if (job->delivering) {
    job->redeliver = true;  // the thread delivering now picks it up (keeps callbacks ordered)
    return;
  }
  job->delivering = true;
  while (!job->done) {
    job->redeliver = false;
    std::vector<std::pair<int64_t, ItemResult>> ready;
    bool finish = false;
    if (!job->failed) {
      while (job->next_deliver < job->results.size() && job->results[job->next_deliver].has_value()) {
        ready.emplace_back(job->next_deliver, std::move(*job->results[job->next_deliver]));
        job->results[job->next_deliver].reset();
        ++job->next_deliver;
      }
      finish = job->next_deliver == job->results.size();
    } else {
      finish = job->in_progress == 0;  // no worker reads the request's media any more
    }
    for (const auto& [i, r] : ready) ++(r.item->kind == MediaKind::kImage ? counters_.items_image : counters_.items_video);
    if (finish) {
      job->done = true;
      jobs_.erase(job->id);
      ++counters_.requests_done;
    }
    const absl::Status status = job->failed ? job->status : absl::OkStatus();
    lock.unlock();
    for (const auto& [i, r] : ready) job->observer->OnItem(i, r);
    if (finish) job->observer->OnDone(status);  // the observer may be gone after this
    lock.lock();
    if (!job->redeliver) break;
  }
  job->delivering = false;
}

}  // namespace qwen::vision

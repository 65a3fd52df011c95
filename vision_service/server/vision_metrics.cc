#include "vision_service/server/vision_metrics.h"

namespace qwen::vision {
namespace {

prometheus::Counter& Count(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}
prometheus::Gauge& Gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

void VisionMetrics::Mirror::Sync(int64_t now) {
  if (now > seen) counter->Increment(static_cast<double>(now - seen));
  seen = now;
}

VisionMetrics::VisionMetrics(prometheus::Registry& r)
    : encode_seconds(prometheus::BuildHistogram()
                         .Name("qwen35_vision_encode_seconds")
                         .Help("Per encoded item: hashing + pre-processing + queueing + encoder")
                         .Register(r)
                         .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                           1.0, 2.5, 5.0, 10.0, 30.0, 60.0})),
      requests(prometheus::BuildCounter()
                   .Name("qwen35_vision_requests_total")
                   .Help("Encode requests finished, by gRPC status code")
                   .Register(r)),
      running_(Gauge(r, "qwen35_vision_num_requests_running", "Encode requests being worked on")),
      waiting_(Gauge(r, "qwen35_vision_num_requests_waiting", "Encode requests admitted, not started")),
      cache_bytes_(Gauge(r, "qwen35_vision_cache_bytes", "Bytes held by the embedding cache")),
      cache_hits_{&Count(r, "qwen35_vision_cache_hits_total", "Items served from the embedding cache")},
      cache_misses_{&Count(r, "qwen35_vision_cache_misses_total", "Items not in the embedding cache")},
      items_image_{nullptr},
      items_video_{nullptr},
      batches_{&Count(r, "qwen35_vision_batches_total", "Encoder calls")},
      batched_items_{&Count(r, "qwen35_vision_batched_items_total", "Items encoded (sum over encoder calls)")},
      dropped_{&Count(r, "qwen35_vision_dropped_items_total", "Queued items dropped by a cancel or a failure")} {
  auto& items = prometheus::BuildCounter()
                    .Name("qwen35_vision_items_total")
                    .Help("Items delivered, by modality")
                    .Register(r);
  items_image_.counter = &items.Add({{"modality", "image"}});
  items_video_.counter = &items.Add({{"modality", "video"}});
}

void VisionMetrics::Update(const SchedulerStats& s) {
  running_.Set(static_cast<double>(s.running));
  waiting_.Set(static_cast<double>(s.waiting));
  cache_bytes_.Set(static_cast<double>(s.cache.bytes));
  cache_hits_.Sync(s.cache.hits);
  cache_misses_.Sync(s.cache.misses);
  items_image_.Sync(s.items_image);
  items_video_.Sync(s.items_video);
  batches_.Sync(s.batches);
  batched_items_.Sync(s.batched_items);
  dropped_.Sync(s.dropped_items);
}

}  // namespace qwen::vision

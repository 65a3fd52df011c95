// Prometheus metrics of the vision service. Gauges and the scheduler's counters are copied from
// SchedulerStats by Update() (one caller: the metrics thread); the encode-latency histogram and
// the per-status request counter are fed by the streams.
#pragma once

#include <cstdint>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "vision_service/server/encode_scheduler.h"

namespace qwen::vision {

class VisionMetrics {
 public:
  explicit VisionMetrics(prometheus::Registry& registry);

  prometheus::Histogram& encode_seconds;  // per encoded (not cached) item: work start -> ready
  prometheus::Family<prometheus::Counter>& requests;  // label code (gRPC status name)

  void Update(const SchedulerStats& stats);

 private:
  // Counter mirroring a monotonic scheduler count.
  struct Mirror {
    prometheus::Counter* counter;
    int64_t seen = 0;
    void Sync(int64_t now);
  };
  prometheus::Gauge& running_;
  prometheus::Gauge& waiting_;
  prometheus::Gauge& cache_bytes_;
  Mirror cache_hits_, cache_misses_, items_image_, items_video_, batches_, batched_items_, dropped_;
};

}  // namespace qwen::vision

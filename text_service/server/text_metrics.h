// Prometheus metrics of the text service (names follow vLLM's where one exists).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "text_service/engine/engine.h"

namespace qwen::text {

class TextMetrics {
 public:
  explicit TextMetrics(prometheus::Registry& registry);

  prometheus::Histogram& ttft;         // request received -> first token sent
  prometheus::Histogram& inter_token;  // between consecutive token chunks
  prometheus::Histogram& e2e;          // request received -> finished
  prometheus::Counter& prompt_tokens;
  prometheus::Counter& generation_tokens;
  prometheus::Family<prometheus::Counter>& finished;  // label reason
  prometheus::Counter& rejected;                      // admission / validation failures
  // Copies the engine's gauges (running, waiting, state bytes) and counts its new preemptions.
  void Update(const EngineStats& stats, int64_t max_running);

 private:
  prometheus::Gauge& running_;
  prometheus::Gauge& waiting_;
  prometheus::Gauge& state_bytes_;
  prometheus::Gauge& state_usage_;
  prometheus::Counter& preemptions_;
  int64_t preemptions_seen_ = 0;
};

}  // namespace qwen::text

// Prometheus metrics of the gateway (names follow vLLM's where one exists, prefix qwen35_gateway_).
#pragma once

#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "gateway/orchestrator/chat_pipeline.h"

namespace qwen::gateway {

class GatewayMetrics {
 public:
  explicit GatewayMetrics(prometheus::Registry& registry);

  prometheus::Gauge& inflight;  // qwen35_gateway_inflight_requests
  // Records one finished request: requests_total{code, method}, latencies, token counts, retries.
  void Observe(const std::string& method, const ChatOutcome& outcome);
  // A request refused before the pipeline ran (draining, over the in-flight limit).
  void ObserveRejected(const std::string& method, absl::StatusCode code);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Histogram& ttft_;
  prometheus::Histogram& e2e_;
  prometheus::Histogram& vision_;
  prometheus::Counter& prompt_tokens_;
  prometheus::Counter& completion_tokens_;
  prometheus::Counter& image_tokens_;
  prometheus::Counter& video_tokens_;
  prometheus::Counter& text_retries_;
};

}  // namespace qwen::gateway

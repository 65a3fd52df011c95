#include "text_service/server/text_metrics.h"

namespace qwen::text {
namespace {

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,  0.25, 0.5,
          0.75,  1.0,    2.5,   5.0,  7.5,   10.0, 20.0,  40.0, 80.0, 160.0};
}

prometheus::Histogram& Hist(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add({}, LatencyBuckets());
}
prometheus::Counter& Count(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}
prometheus::Gauge& Gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

TextMetrics::TextMetrics(prometheus::Registry& r)
    : ttft(Hist(r, "qwen35_text_time_to_first_token_seconds",
                "Request received to first token sent")),
      inter_token(Hist(r, "qwen35_text_inter_token_latency_seconds", "Time between token chunks")),
      e2e(Hist(r, "qwen35_text_e2e_request_latency_seconds", "Request received to finished")),
      prompt_tokens(Count(r, "qwen35_text_prompt_tokens_total", "Prompt tokens prefilled")),
      generation_tokens(Count(r, "qwen35_text_generation_tokens_total", "Tokens generated")),
      finished(prometheus::BuildCounter()
                   .Name("qwen35_text_requests_finished_total")
                   .Help("Finished requests by reason")
                   .Register(r)),
      rejected(Count(r, "qwen35_text_requests_rejected_total", "Requests refused at admission")),
      running_(Gauge(r, "qwen35_text_num_requests_running", "Requests holding state")),
      waiting_(Gauge(r, "qwen35_text_num_requests_waiting", "Requests queued for a state slot")),
      state_bytes_(
          Gauge(r, "qwen35_text_state_bytes", "Bytes of KV cache and DeltaNet state held")),
      state_usage_(
          Gauge(r, "qwen35_text_state_slot_usage", "Fraction of state slots in use (0..1)")),
      preemptions_(Count(r, "qwen35_text_preemptions_total",
                         "Sequences whose cache was freed for others (recomputed later)")) {}

void TextMetrics::Update(const EngineStats& s, int64_t max_running) {
  running_.Set(static_cast<double>(s.running));
  waiting_.Set(static_cast<double>(s.waiting));
  state_bytes_.Set(static_cast<double>(s.state_bytes));
  if (s.preemptions > preemptions_seen_) {
    preemptions_.Increment(static_cast<double>(s.preemptions - preemptions_seen_));
    preemptions_seen_ = s.preemptions;
  }
  state_usage_.Set(
      max_running > 0 ? static_cast<double>(s.running) / static_cast<double>(max_running) : 0.0);
}

}  // namespace qwen::text

#include "gateway/server/gateway_metrics.h"

#include "absl/status/status.h"

namespace qwen::gateway {
namespace {

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0,
          2.5,   5.0,    7.5,   10.0, 20.0,  40.0, 80.0,  160.0};
}
prometheus::Histogram& Hist(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add({}, LatencyBuckets());
}
prometheus::Counter& Count(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

GatewayMetrics::GatewayMetrics(prometheus::Registry& r)
    : inflight(prometheus::BuildGauge()
                   .Name("qwen35_gateway_inflight_requests")
                   .Help("Chat requests being served")
                   .Register(r)
                   .Add({})),
      requests_(prometheus::BuildCounter()
                    .Name("qwen35_gateway_requests_total")
                    .Help("Finished requests by gRPC status code")
                    .Register(r)),
      ttft_(Hist(r, "qwen35_gateway_time_to_first_token_seconds", "Request received to first token from the text tier")),
      e2e_(Hist(r, "qwen35_gateway_e2e_request_latency_seconds", "Request received to its last message")),
      vision_(Hist(r, "qwen35_gateway_vision_seconds", "Time spent encoding a request's media")),
      prompt_tokens_(Count(r, "qwen35_gateway_prompt_tokens_total", "Prompt tokens sent to the text tier")),
      completion_tokens_(Count(r, "qwen35_gateway_generation_tokens_total", "Tokens generated for clients")),
      image_tokens_(Count(r, "qwen35_gateway_image_tokens_total", "Prompt tokens taken by images")),
      video_tokens_(Count(r, "qwen35_gateway_video_tokens_total", "Prompt tokens taken by videos")),
      text_retries_(Count(r, "qwen35_gateway_text_retries_total", "Generate calls retried on another replica")) {}

void GatewayMetrics::Observe(const std::string& method, const ChatOutcome& o) {
  requests_.Add({{"code", absl::StatusCodeToString(o.status.code())}, {"method", method}}).Increment();
  e2e_.Observe(o.timing.total_s());
  if (o.got_first_token) ttft_.Observe(o.timing.ttft_s());
  if (o.num_images + o.num_videos > 0 && o.timing.vision_s() > 0) vision_.Observe(o.timing.vision_s());
  prompt_tokens_.Increment(o.usage.prompt_tokens());
  completion_tokens_.Increment(o.usage.completion_tokens());
  image_tokens_.Increment(o.usage.image_tokens());
  video_tokens_.Increment(o.usage.video_tokens());
  if (o.text_attempts > 1) text_retries_.Increment(o.text_attempts - 1);
}

void GatewayMetrics::ObserveRejected(const std::string& method, absl::StatusCode code) {
  requests_.Add({{"code", absl::StatusCodeToString(code)}, {"method", method}}).Increment();
}

}  // namespace qwen::gateway

// qwen35.v1.Gateway over the chat pipeline. Thin: assigns the request id, bounds the requests in
// flight, refuses new work while draining, and records metrics and one structured log line per
// request event. Synchronous API on purpose: a request's pipeline blocks (template, tokenizer,
// waiting on vision and text), so one handler thread per in-flight request is the simple model;
// --max_inflight bounds the threads.
#pragma once

#include <atomic>
#include <string>

#include "gateway/orchestrator/chat_pipeline.h"
#include "gateway/server/gateway_metrics.h"
#include "qwen35/v1/gateway.grpc.pb.h"

namespace qwen::gateway {

struct GatewayServiceOptions {
  int64_t max_inflight = 1024;  // more concurrent requests get RESOURCE_EXHAUSTED
};

class GatewayServicer final : public qwen35::v1::Gateway::Service {
 public:
  GatewayServicer(const ChatPipeline* pipeline, GatewayMetrics* metrics, GatewayServiceOptions options)
      : pipeline_(pipeline), metrics_(metrics), options_(options) {}

  grpc::Status Chat(grpc::ServerContext* context, const qwen35::v1::ChatRequest* request,
                    grpc::ServerWriter<qwen35::v1::ChatResponse>* writer) override;
  grpc::Status ChatComplete(grpc::ServerContext* context, const qwen35::v1::ChatRequest* request,
                            qwen35::v1::ChatCompletion* response) override;

  // New requests get UNAVAILABLE from now on (the caller retries on another gateway).
  void SetDraining() { draining_ = true; }
  int64_t inflight() const { return inflight_.load(); }

 private:
  grpc::Status Serve(const char* method, grpc::ServerContext* context, const qwen35::v1::ChatRequest& request,
                     const std::string& request_id, ChatSink& sink);

  const ChatPipeline* pipeline_;
  GatewayMetrics* metrics_;
  GatewayServiceOptions options_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> inflight_{0};
};

// A fresh gateway request id: "req-" + 32 random hex digits.
std::string NewRequestId();

}  // namespace qwen::gateway

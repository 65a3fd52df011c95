#include "gateway/server/gateway_servicer.h"

#include <chrono>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "core/logging.h"
#include "server_common/grpc_status.h"

namespace qwen::gateway {
namespace {

namespace pb = qwen35::v1;

class StreamSink final : public ChatSink {
 public:
  explicit StreamSink(grpc::ServerWriter<pb::ChatResponse>* writer) : writer_(writer) {}
  bool Send(const pb::ChatResponse& response) override { return writer_->Write(response); }

 private:
  grpc::ServerWriter<pb::ChatResponse>* writer_;
};

// ChatComplete: the same stream, folded into one message.
class CollectSink final : public ChatSink {
 public:
  explicit CollectSink(pb::ChatCompletion* out) : out_(out) {}
  bool Send(const pb::ChatResponse& response) override {
    if (response.has_delta()) {
      const pb::ChatDelta& d = response.delta();
      out_->mutable_content()->append(d.content());
      out_->mutable_reasoning()->append(d.reasoning());
      for (const pb::ToolCall& call : d.tool_calls()) *out_->add_tool_calls() = call;
      for (const pb::TokenLogprob& lp : d.logprobs()) *out_->add_logprobs() = lp;
    } else if (response.has_finished()) {
      *out_->mutable_finished() = response.finished();
    }
    return true;
  }

 private:
  pb::ChatCompletion* out_;
};

}  // namespace

std::string NewRequestId() {
  absl::BitGen gen;
  return absl::StrFormat("req-%016x%016x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
}

grpc::Status GatewayServicer::Chat(grpc::ServerContext* context, const pb::ChatRequest* request,
                                   grpc::ServerWriter<pb::ChatResponse>* writer) {
  const std::string request_id = NewRequestId();
  StreamSink sink(writer);
  return Serve("Chat", context, *request, request_id, sink);
}

grpc::Status GatewayServicer::ChatComplete(grpc::ServerContext* context, const pb::ChatRequest* request,
                                           pb::ChatCompletion* response) {
  const std::string request_id = NewRequestId();
  response->set_request_id(request_id);
  CollectSink sink(response);
  return Serve("ChatComplete", context, *request, request_id, sink);
}

grpc::Status GatewayServicer::Serve(const char* method, grpc::ServerContext* context, const pb::ChatRequest& request,
                                    const std::string& request_id, ChatSink& sink) {
  const auto received = std::chrono::steady_clock::now();
  // Also on calls that fail before any message: the id is what support asks for.
  context->AddInitialMetadata("x-request-id", request_id);
  context->AddTrailingMetadata("x-request-id", request_id);
  if (draining_) {
    metrics_->ObserveRejected(method, absl::StatusCode::kUnavailable);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is draining");
  }
  if (inflight_.fetch_add(1) >= options_.max_inflight) {
    inflight_.fetch_sub(1);
    metrics_->ObserveRejected(method, absl::StatusCode::kResourceExhausted);
    QWEN_LOG(Warning) << "request_id=" << request_id << " method=" << method << " event=rejected inflight_limit="
                      << options_.max_inflight;
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrFormat("the gateway already serves %d requests", options_.max_inflight));
  }
  metrics_->inflight.Increment();
  QWEN_LOG(Info) << "request_id=" << request_id << " method=" << method << " event=start client_request_id=\""
                 << request.client_request_id() << "\" messages=" << request.messages_size()
                 << " peer=" << context->peer();

  const DownstreamContext call{.parent = context, .request_id = request_id};
  const ChatOutcome outcome = pipeline_->Run(request, call, received, sink);

  metrics_->inflight.Decrement();
  inflight_.fetch_sub(1);
  metrics_->Observe(method, outcome);
  const pb::Usage& u = outcome.usage;
  const pb::Timing& t = outcome.timing;
  QWEN_LOG(Info) << "request_id=" << request_id << " method=" << method
                 << " event=finish code=" << absl::StatusCodeToString(outcome.status.code())
                 << " reason=" << pb::FinishReason_Name(outcome.reason) << " prompt_tokens=" << u.prompt_tokens()
                 << " completion_tokens=" << u.completion_tokens() << " image_tokens=" << u.image_tokens()
                 << " video_tokens=" << u.video_tokens() << " images=" << outcome.num_images
                 << " videos=" << outcome.num_videos << " text_attempts=" << outcome.text_attempts
                 << " vision_calls=" << outcome.vision_calls << " vision_s=" << t.vision_s()
                 << " queue_s=" << t.queue_s() << " ttft_s=" << t.ttft_s() << " total_s=" << t.total_s()
                 << (outcome.status.ok() ? "" : " error=\"" + std::string(outcome.status.message()) + "\"");
  return serving::ToGrpcStatus(outcome.status);
}

}  // namespace qwen::gateway

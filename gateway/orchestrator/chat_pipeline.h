// One chat request end to end, on the caller's thread:
//   ChatRequest -> messages json -> chat template -> token ids
//   -> vision (every image/video concurrently) -> placeholders expanded, embeddings, M-RoPE
//   -> text Generate (retried on another replica while no token has arrived)
//   -> detokenize + stop strings + reasoning/tool-call parsing -> ChatDelta ... ChatFinished.
// Errors follow SERVING.md 5: the caller's mistakes are INVALID_ARGUMENT naming the message/part;
// RESOURCE_EXHAUSTED / UNAVAILABLE of a text replica before the first token are retried (bounded)
// and propagated after it; the client's cancel or deadline cancels the downstream calls (they are
// children of the incoming call) and ends with CANCELLED / DEADLINE_EXCEEDED.
#pragma once

#include <chrono>

#include "absl/status/status.h"
#include "gateway/orchestrator/chat_request.h"
#include "gateway/orchestrator/downstream_context.h"
#include "gateway/orchestrator/model_bundle.h"
#include "gateway/orchestrator/replica_pool.h"
#include "gateway/orchestrator/response_builder.h"
#include "gateway/orchestrator/vision_client.h"
#include "qwen35/v1/gateway.pb.h"
#include "qwen35/v1/text.pb.h"

namespace qwen::gateway {

// Where the pipeline's messages go (a server stream, or a collector for ChatComplete).
class ChatSink {
 public:
  virtual ~ChatSink() = default;
  // False when the client is gone; the pipeline then cancels the downstream calls.
  virtual bool Send(const qwen35::v1::ChatResponse& response) = 0;
};

struct PipelineOptions {
  RequestLimits limits;
  text::ExpandOptions expand;
  // Generate calls per request (1 + retries on another replica before the first token).
  int text_max_attempts = 3;
  std::chrono::milliseconds retry_backoff{20};
};

struct ChatOutcome {
  absl::Status status;
  qwen35::v1::FinishReason reason = qwen35::v1::FINISH_REASON_UNSPECIFIED;
  qwen35::v1::Usage usage;
  qwen35::v1::Timing timing;
  bool got_first_token = false;  // timing.ttft_s is meaningful
  int text_attempts = 0;
  int vision_calls = 0;
  int num_images = 0;
  int num_videos = 0;
};

class ChatPipeline {
 public:
  // Borrowed pointers; all must outlive the pipeline. `vision` may have no pool (text only).
  ChatPipeline(const ModelBundle* bundle, ReplicaPool* text, const VisionClient* vision, PipelineOptions options)
      : bundle_(bundle), text_(text), vision_(vision), options_(std::move(options)) {}

  // Runs one request; every ChatResponse sent carries `call.request_id`. On success the last
  // message sent is ChatFinished. `received` is when the request arrived (timings count from it).
  ChatOutcome Run(const qwen35::v1::ChatRequest& request, const DownstreamContext& call,
                  std::chrono::steady_clock::time_point received, ChatSink& sink) const;

 private:
  // The Generate call with its retries, streaming into `sink`.
  void Generate(qwen35::v1::GenerateRequest& generate, const DownstreamContext& call,
                std::chrono::steady_clock::time_point received, ResponseBuilder& builder, ChatSink& sink,
                ChatOutcome& out) const;

  const ModelBundle* bundle_;
  ReplicaPool* text_;
  const VisionClient* vision_;
  PipelineOptions options_;
};

}  // namespace qwen::gateway

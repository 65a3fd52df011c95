// qwen35.v1.TextGenerator over the engine. Thin: converts protos, streams engine updates through a
// per-call write reactor, maps errors to status codes, and records metrics.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "qwen35/v1/text.grpc.pb.h"
#include "text_service/engine/engine.h"
#include "text_service/server/request_convert.h"
#include "text_service/server/text_metrics.h"

namespace qwen::text {

class TextServicer final : public qwen35::v1::TextGenerator::CallbackService {
 public:
  TextServicer(Engine* engine, RequestDefaults defaults, TextMetrics* metrics, std::string model_id,
               int64_t max_running);

  grpc::ServerWriteReactor<qwen35::v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const qwen35::v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Abort(grpc::CallbackServerContext* context,
                                  const qwen35::v1::AbortRequest* request,
                                  qwen35::v1::AbortResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const qwen35::v1::GetModelInfoRequest* request,
                                         qwen35::v1::TextModelInfo* response) override;
  grpc::ServerUnaryReactor* GetLoad(grpc::CallbackServerContext* context,
                                    const qwen35::v1::GetLoadRequest* request,
                                    qwen35::v1::LoadReport* response) override;

  // Once draining, new Generate calls get UNAVAILABLE (retryable on another replica).
  void SetDraining() { draining_ = true; }
  // Generate calls still open (for the drain).
  int64_t open_streams() const { return open_streams_.load(); }

 private:
  class GenerateReactor;
  Engine* engine_;
  RequestDefaults defaults_;
  TextMetrics* metrics_;
  std::string model_id_;
  int64_t max_running_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> open_streams_{0};
};

}  // namespace qwen::text

// qwen35.v1.VisionEncoder over the encode scheduler. Thin: converts the request into MediaInput
// views, streams each item (ItemHeader, chunks of the [num_tokens, hidden] tensor in the requested
// dtype, ItemDone) through a per-call write reactor as soon as the scheduler delivers it, and maps
// errors to status codes (SERVING.md 5).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "qwen35/v1/vision.grpc.pb.h"
#include "vision_service/server/encode_scheduler.h"
#include "vision_service/server/vision_metrics.h"

namespace qwen::vision {

// Largest chunk put in one message: 4 MiB (the default gRPC receive limit) less room for the
// message's own framing.
inline constexpr uint32_t kMaxChunkBytes = (4u << 20) - 1024;
inline constexpr uint32_t kDefaultChunkBytes = 1u << 20;

class VisionServicer final : public qwen35::v1::VisionEncoder::CallbackService {
 public:
  // `metrics` may be null (no metrics).
  VisionServicer(EncodeScheduler* scheduler, VisionMetrics* metrics, std::string model_id);

  grpc::ServerWriteReactor<qwen35::v1::EncodeResponse>* Encode(grpc::CallbackServerContext* context,
                                                               const qwen35::v1::EncodeRequest* request) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const qwen35::v1::GetVisionModelInfoRequest* request,
                                         qwen35::v1::VisionModelInfo* response) override;
  grpc::ServerUnaryReactor* GetLoad(grpc::CallbackServerContext* context, const qwen35::v1::GetLoadRequest* request,
                                    qwen35::v1::LoadReport* response) override;

  // Once draining, new Encode calls get UNAVAILABLE (retryable on another replica).
  void SetDraining() { draining_ = true; }
  // Encode calls still open (for the drain).
  int64_t open_streams() const { return open_streams_.load(); }

 private:
  class EncodeReactor;
  EncodeScheduler* scheduler_;
  VisionMetrics* metrics_;
  std::string model_id_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> open_streams_{0};
  std::atomic<uint64_t> unnamed_requests_{0};  // for request ids the client did not set
};

}  // namespace qwen::vision

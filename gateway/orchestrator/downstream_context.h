// How one chat request makes its downstream (vision, text) calls: as children of the incoming
// call, so the client's cancellation and deadline reach them inside gRPC itself (no polling), with
// the gateway's request id attached as x-request-id metadata.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

namespace qwen::gateway {

struct DownstreamContext {
  // The incoming call; null when the pipeline runs without a server call (tests, tools).
  const grpc::ServerContextBase* parent = nullptr;
  std::string request_id;
  // Used only without a parent (a parent's deadline is inherited).
  std::chrono::system_clock::time_point deadline = std::chrono::system_clock::time_point::max();

  std::unique_ptr<grpc::ClientContext> NewClientContext() const {
    std::unique_ptr<grpc::ClientContext> ctx;
    if (parent != nullptr) {
      ctx = grpc::ClientContext::FromServerContext(*parent);
    } else {
      ctx = std::make_unique<grpc::ClientContext>();
      if (deadline != std::chrono::system_clock::time_point::max()) ctx->set_deadline(deadline);
    }
    ctx->AddMetadata("x-request-id", request_id);
    return ctx;
  }

  // True once the client cancelled or its deadline passed. Only on the handler's thread.
  bool Cancelled() const {
    if (parent != nullptr) return parent->IsCancelled();
    return std::chrono::system_clock::now() >= deadline;
  }
};

}  // namespace qwen::gateway

// A minimal HTTP/1.x server for Prometheus scrapes: GET /metrics answers the registry in the text
// exposition format, anything else 404, one connection at a time on one thread.
//
// Why not prometheus-cpp's Exposer: it runs civetweb, whose worker threads are created with a
// ~100 KB stack; once cuBLASLt is loaded (the CUDA builds of the services link it) its ~94 KB of
// static TLS no longer fits, thread creation fails and the exposer cannot start. std::thread uses
// the default 8 MiB stack.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"

namespace qwen::serving {

class MetricsHttpServer {
 public:
  // Listens on 0.0.0.0:`port` (0: an ephemeral port, see port()). Unavailable when the port
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      int port, std::shared_ptr<prometheus::Registry> registry);
  ~MetricsHttpServer();  // stops accepting and joins the thread
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;
  void Loop();
  void Serve(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
  std::shared_ptr<prometheus::Registry> registry_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace qwen::serving

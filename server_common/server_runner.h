// Common life cycle of a qwen35 gRPC server: health (grpc.health.v1), reflection, Prometheus
// /metrics, and a graceful drain on SIGTERM/SIGINT: readiness goes NOT_SERVING, the service stops
// accepting new work, in-flight streams get up to `drain_timeout` to finish, then the server stops.
#pragma once

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server_common/metrics_http_server.h"

namespace qwen::serving {

struct ServerOptions {
  std::string listen_address;  // e.g. "0.0.0.0:50051"
  int metrics_port = 0;        // 0 = no /metrics endpoint
  int max_receive_message_mb = 64;
  std::chrono::seconds drain_timeout{30};
  std::chrono::minutes max_connection_age{15};  // forces clients to re-resolve DNS
  std::string service_name;                     // readiness is reported under this name
};

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts afterwards, so the
// signal is taken only by WaitForTerminationSignal(). Call first thing in main().
void BlockTerminationSignals();
// Blocks until SIGTERM or SIGINT; returns the signal number.
int WaitForTerminationSignal();

class ServerRunner {
 public:
  explicit ServerRunner(ServerOptions options);
  ~ServerRunner();

  prometheus::Registry& metrics() { return *registry_; }
  // Builds and starts the server with `services` (health NOT_SERVING until SetReady(true)).
  absl::Status Start(const std::vector<grpc::Service*>& services);
  void SetReady(bool ready);
  int bound_port() const { return bound_port_; }
  grpc::Server* server() { return server_.get(); }
  // The drain: not ready, `stop_accepting()`, wait until `idle()` or the timeout, then shut the
  // server down (cancelling whatever is left) and wait for it.
  void Drain(const std::function<void()>& stop_accepting, const std::function<bool()>& idle);
  // The main loop of a ready server: calls `refresh_gauges` every 250 ms (gauges copied from the
  // engine), waits for SIGTERM/SIGINT, then Drain(stop_accepting, idle).
  void ServeUntilSignal(const std::function<void()>& refresh_gauges,
                        const std::function<void()>& stop_accepting,
                        const std::function<bool()>& idle);

 private:
  ServerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<MetricsHttpServer> metrics_server_;
  std::unique_ptr<grpc::Server> server_;
  int bound_port_ = 0;
};

}  // namespace qwen::serving

#include "server_common/server_runner.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "core/status.h"

namespace qwen::serving {
namespace {
sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set = TerminationSignals();
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

ServerRunner::ServerRunner(ServerOptions options)
    : options_(std::move(options)), registry_(std::make_shared<prometheus::Registry>()) {}

ServerRunner::~ServerRunner() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
}

absl::Status ServerRunner::Start(const std::vector<grpc::Service*>& services) {
  if (options_.metrics_port > 0) {
    QWEN_ASSIGN_OR_RETURN(metrics_server_,
                          MetricsHttpServer::Start(options_.metrics_port, registry_));
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen_address, grpc::InsecureServerCredentials(),
                           &bound_port_);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_mb * 1024 * 1024);
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_MS,
      static_cast<int>(std::chrono::milliseconds(options_.max_connection_age).count()));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
      static_cast<int>(std::chrono::milliseconds(options_.drain_timeout).count()));
  for (grpc::Service* s : services) builder.RegisterService(s);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || bound_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen_address));
  }
  SetReady(false);
  QWEN_LOG(Info) << "listening on port " << bound_port_ << " (" << options_.service_name << ")"
                 << (options_.metrics_port > 0
                         ? absl::StrCat(", metrics on :", options_.metrics_port, "/metrics")
                         : "");
  return absl::OkStatus();
}

void ServerRunner::SetReady(bool ready) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  // "" is liveness (the process answers); the service name is readiness.
  health->SetServingStatus("", true);
  health->SetServingStatus(options_.service_name, ready);
}

void ServerRunner::Drain(const std::function<void()>& stop_accepting,
                         const std::function<bool()>& idle) {
  SetReady(false);
  stop_accepting();
  auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
  QWEN_LOG(Info) << "draining: waiting up to " << options_.drain_timeout.count()
                 << " s for in-flight work";
  while (!idle() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!idle()) QWEN_LOG(Warning) << "drain timeout: cancelling the streams still open";
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  QWEN_LOG(Info) << "stopped";
}

void ServerRunner::ServeUntilSignal(const std::function<void()>& refresh_gauges,
                                    const std::function<void()>& stop_accepting,
                                    const std::function<bool()>& idle) {
  std::atomic<bool> stop{false};
  std::thread refresher([&] {
    while (!stop) {
      refresh_gauges();
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  int sig = WaitForTerminationSignal();
  QWEN_LOG(Info) << "signal " << sig << ": draining";
  Drain(stop_accepting, idle);
  stop = true;
  refresher.join();
}

}  // namespace qwen::serving

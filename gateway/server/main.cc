// gateway: serves qwen35.v1.Gateway (OpenAI-style chat over gRPC) in front of the vision and text
// tiers. Ready once the model files are loaded and a text replica serving the same model answers.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "core/logging.h"
#include "core/status.h"
#include "gateway/orchestrator/chat_pipeline.h"
#include "gateway/server/gateway_servicer.h"
#include "gateway/server/readiness.h"
#include "server_common/server_runner.h"

ABSL_FLAG(std::string, model, "", "checkpoint directory: tokenizer.json, chat_template.jinja, config.json (required)");
ABSL_FLAG(std::string, listen, "0.0.0.0:50050", "gRPC listen address");
ABSL_FLAG(int, metrics_port, 9090, "Prometheus /metrics port (0 = off)");
ABSL_FLAG(std::string, text_targets, "",
          "text replicas: dns:///name:port (headless Service) or host:port,host:port (required)");
ABSL_FLAG(std::string, vision_targets, "", "vision replicas, same forms; empty = text-only gateway");
ABSL_FLAG(int, drain_timeout_s, 30, "seconds in-flight streams get to finish after SIGTERM");
ABSL_FLAG(int, max_request_mb, 64, "largest ChatRequest accepted (inline images/videos), MiB");
ABSL_FLAG(int, max_messages, 512, "messages per request");
ABSL_FLAG(int, max_images, 16, "images per request");
ABSL_FLAG(int, max_videos, 2, "videos per request");
ABSL_FLAG(int, max_stop_strings, 16, "stop strings per request");
ABSL_FLAG(int64_t, max_inflight, 1024, "concurrent requests before RESOURCE_EXHAUSTED");
ABSL_FLAG(int, text_max_attempts, 3, "Generate calls per request (retries before the first token)");
ABSL_FLAG(int, vision_max_attempts, 2, "Encode calls per media item (retries on UNAVAILABLE/RESOURCE_EXHAUSTED)");
ABSL_FLAG(int, keepalive_time_s, 360,
          "client keepalive ping interval to the replicas; keep it above their minimum ping interval (5 min)");
ABSL_FLAG(int, dns_refresh_s, 30, "re-resolve replica names this often; a changed address set swaps the channel (0 = off)");
ABSL_FLAG(std::string, video_wrapper, "keep_outer",
          "video placeholder layout: keep_outer (transformers >= 5.10) or replace_triple (older)");
ABSL_FLAG(std::string, vision_dtype, "bf16", "embedding dtype asked of the vision tier: bf16 or f32");

namespace {

using namespace qwen;

// Polls the text tier until a replica serving the same model answers, then reports ready.
class ReadinessProbe {
 public:
  ReadinessProbe(serving::ServerRunner* runner, const gateway::ReplicaPool* text, const gateway::ModelBundle* bundle)
      : thread_([=, this] { Loop(runner, text, bundle); }) {}
  ~ReadinessProbe() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Loop(serving::ServerRunner* runner, const gateway::ReplicaPool* text, const gateway::ModelBundle* bundle) {
    std::string last;
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      absl::Status s = gateway::ProbeTextReplica(*text, *bundle, std::chrono::seconds(2));
      lock.lock();
      if (stop_) return;
      if (s.ok()) {
        runner->SetReady(true);
        QWEN_LOG(Info) << "ready: a text replica serves the same model (" << text->target() << ")";
        return;
      }
      if (s.ToString() != last) {  // log changes, not every poll
        last = s.ToString();
        if (s.code() == absl::StatusCode::kFailedPrecondition) {
          QWEN_LOG(Error) << "refusing to become ready: " << s.message();
        } else {
          QWEN_LOG(Warning) << "not ready, waiting for a text replica: " << s;
        }
      }
      cv_.wait_for(lock, std::chrono::seconds(2), [this] { return stop_; });
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

absl::Status Run() {
  const std::string model_dir = absl::GetFlag(FLAGS_model);
  if (model_dir.empty()) return absl::InvalidArgumentError("--model is required");
  if (absl::GetFlag(FLAGS_text_targets).empty()) return absl::InvalidArgumentError("--text_targets is required");
  const std::string wrapper = absl::GetFlag(FLAGS_video_wrapper);
  if (wrapper != "keep_outer" && wrapper != "replace_triple") {
    return absl::InvalidArgumentError("--video_wrapper must be keep_outer or replace_triple");
  }
  const std::string dtype = absl::GetFlag(FLAGS_vision_dtype);
  if (dtype != "bf16" && dtype != "f32") return absl::InvalidArgumentError("--vision_dtype must be bf16 or f32");

  QWEN_LOG(Info) << "loading tokenizer, chat template and config from " << model_dir;
  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<gateway::ModelBundle> bundle, gateway::ModelBundle::Load(model_dir));

  gateway::ReplicaPoolOptions pool_options{
      .health_service_name = "qwen35.v1.TextGenerator",
      .keepalive_time = std::chrono::seconds(absl::GetFlag(FLAGS_keepalive_time_s)),
      .refresh_interval = std::chrono::seconds(absl::GetFlag(FLAGS_dns_refresh_s))};
  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<gateway::ReplicaPool> text_pool,
                        gateway::ReplicaPool::Create(absl::GetFlag(FLAGS_text_targets), pool_options));
  std::unique_ptr<gateway::ReplicaPool> vision_pool;
  if (!absl::GetFlag(FLAGS_vision_targets).empty()) {
    pool_options.health_service_name = "qwen35.v1.VisionEncoder";
    QWEN_ASSIGN_OR_RETURN(vision_pool, gateway::ReplicaPool::Create(absl::GetFlag(FLAGS_vision_targets), pool_options));
  }
  QWEN_LOG(Info) << "text replicas: " << text_pool->target()
                 << "; vision replicas: " << (vision_pool ? vision_pool->target() : "(none: text only)");

  gateway::VisionClient vision(
      vision_pool.get(),
      {.output_dtype = dtype == "f32" ? qwen35::v1::DTYPE_F32 : qwen35::v1::DTYPE_BF16,
       .max_attempts = absl::GetFlag(FLAGS_vision_max_attempts),
       .hidden_size = bundle->hidden_size(),
       .spatial_merge_size = bundle->spatial_merge_size()});
  gateway::PipelineOptions pipeline_options{
      .limits = {.max_messages = absl::GetFlag(FLAGS_max_messages),
                 .max_images = absl::GetFlag(FLAGS_max_images),
                 .max_videos = absl::GetFlag(FLAGS_max_videos),
                 .max_stop_strings = absl::GetFlag(FLAGS_max_stop_strings)},
      .expand = {.spatial_merge_size = bundle->spatial_merge_size(),
                 .video_wrapper = wrapper == "keep_outer" ? text::VideoWrapper::kKeepOuter
                                                          : text::VideoWrapper::kReplaceTriple},
      .text_max_attempts = absl::GetFlag(FLAGS_text_max_attempts)};
  gateway::ChatPipeline pipeline(bundle.get(), text_pool.get(), &vision, pipeline_options);

  serving::ServerRunner runner({.listen_address = absl::GetFlag(FLAGS_listen),
                                .metrics_port = absl::GetFlag(FLAGS_metrics_port),
                                .max_receive_message_mb = absl::GetFlag(FLAGS_max_request_mb),
                                .drain_timeout = std::chrono::seconds(absl::GetFlag(FLAGS_drain_timeout_s)),
                                .service_name = "qwen35.v1.Gateway"});
  gateway::GatewayMetrics metrics(runner.metrics());
  gateway::GatewayServicer service(&pipeline, &metrics, {.max_inflight = absl::GetFlag(FLAGS_max_inflight)});
  QWEN_RETURN_IF_ERROR(runner.Start({&service}));

  {
    ReadinessProbe probe(&runner, text_pool.get(), bundle.get());
    int sig = serving::WaitForTerminationSignal();
    QWEN_LOG(Info) << "signal " << sig << ": draining";
  }  // the probe stops before the drain, so it cannot flip readiness back
  runner.Drain([&] { service.SetDraining(); }, [&] { return service.inflight() == 0; });
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  qwen::serving::BlockTerminationSignals();
  absl::SetProgramUsageMessage("qwen35 gateway: qwen35.v1.Gateway in front of the vision and text services");
  absl::ParseCommandLine(argc, argv);
  absl::Status s = Run();
  if (!s.ok()) {
    QWEN_LOG(Error) << s;
    return 1;
  }
  return 0;
}

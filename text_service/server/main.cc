// text_service: serves qwen35.v1.TextGenerator for one checkpoint.
#include <filesystem>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "core/logging.h"
#include "core/status.h"
#include "server_common/server_runner.h"
#include "text_service/engine/engine.h"
#include "text_service/server/text_servicer.h"

ABSL_FLAG(std::string, model, "", "Hugging Face checkpoint directory (required)");
ABSL_FLAG(std::string, listen, "0.0.0.0:50052", "gRPC listen address");
ABSL_FLAG(int, metrics_port, 9092, "Prometheus /metrics port (0 = off)");
ABSL_FLAG(int64_t, max_running, 64, "sequences holding state at once");
ABSL_FLAG(int64_t, max_waiting, 256, "queued requests before RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_batched_tokens, 2048, "tokens per engine step (decode + prefill chunks)");
ABSL_FLAG(int64_t, max_context, 0, "prompt + generated token limit (0 = the model's)");
ABSL_FLAG(int64_t, default_max_tokens, 256, "max_tokens when a request leaves it unset");
ABSL_FLAG(int, threads, 0, "CPU threads for the matrix products (0 = all cores)");
ABSL_FLAG(int, drain_timeout_s, 30, "seconds in-flight streams get to finish after SIGTERM");
ABSL_FLAG(int, max_receive_mb, 256, "largest request accepted (inline embeddings), MiB");

namespace {

absl::Status Run() {
  using namespace qwen;
  const std::string model_dir = absl::GetFlag(FLAGS_model);
  if (model_dir.empty()) return absl::InvalidArgumentError("--model is required");
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  serving::ServerOptions options{.listen_address = absl::GetFlag(FLAGS_listen),
                                 .metrics_port = absl::GetFlag(FLAGS_metrics_port),
                                 .max_receive_message_mb = absl::GetFlag(FLAGS_max_receive_mb),
                                 .drain_timeout = std::chrono::seconds(absl::GetFlag(FLAGS_drain_timeout_s)),
                                 .service_name = "qwen35.v1.TextGenerator"};
  serving::ServerRunner runner(options);
  text::TextMetrics metrics(runner.metrics());

  QWEN_LOG(Info) << "loading " << model_dir;
  auto t0 = std::chrono::steady_clock::now();
  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<text::TextModel> model, text::TextModel::Load(model_dir));
  QWEN_ASSIGN_OR_RETURN(core::GenerationConfig generation, core::LoadGenerationConfig(model_dir));
  QWEN_LOG(Info) << "loaded in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                 << " s: " << model->config().layer_types.size() << " layers, hidden " << model->config().hidden_size;

  text::EngineOptions engine_options{.max_running = absl::GetFlag(FLAGS_max_running),
                                     .max_waiting = absl::GetFlag(FLAGS_max_waiting),
                                     .max_batched_tokens = absl::GetFlag(FLAGS_max_batched_tokens),
                                     .max_context = absl::GetFlag(FLAGS_max_context),
                                     .eos_token_ids = generation.eos_token_ids,
                                     .num_threads = threads};
  text::Engine engine(model.get(), engine_options);
  text::RequestDefaults defaults{.generation = generation,
                                 .max_tokens = absl::GetFlag(FLAGS_default_max_tokens),
                                 .hidden_size = model->config().hidden_size};
  text::TextServicer service(&engine, model.get(), defaults, &metrics,
                             std::filesystem::path(model_dir).filename().string(), engine_options.max_running);
  QWEN_RETURN_IF_ERROR(runner.Start({&service}));

  // Warm-up: one real forward before reporting ready.
  {
    text::SequenceState state = model->NewSequence();
    std::vector<int64_t> ids = {0};
    text::ForwardBatch batch;
    batch.token_ids = ids;
    batch.sequences = {text::SequenceSpan{.begin = 0, .length = 1, .state = &state}};
    std::vector<int64_t> pos = text::TextPositions(batch.sequences, 1);
    batch.positions = pos;
    QWEN_RETURN_IF_ERROR(model->Forward({.num_threads = threads}, batch, text::LogitsMode::kLast).status());
  }
  runner.SetReady(true);
  QWEN_LOG(Info) << "ready";

  runner.ServeUntilSignal(
      [&] { metrics.Update(engine.Stats(), engine_options.max_running); },
      [&] {
        service.SetDraining();
        engine.StopAccepting();
      },
      [&] {
        text::EngineStats s = engine.Stats();
        return s.running == 0 && s.waiting == 0 && service.open_streams() == 0;
      });
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  qwen::serving::BlockTerminationSignals();
  absl::SetProgramUsageMessage("qwen35 text service: qwen35.v1.TextGenerator over a Qwen3.5 checkpoint");
  absl::ParseCommandLine(argc, argv);
  absl::Status s = Run();
  if (!s.ok()) {
    QWEN_LOG(Error) << s;
    return 1;
  }
  return 0;
}

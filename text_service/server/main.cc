// text_service: serves qwen35.v1.TextGenerator for one checkpoint.
#include <filesystem>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "core/status.h"
#include "server_common/server_runner.h"
#include "text_service/engine/cpu_backend.h"
#include "text_service/engine/engine.h"
#include "text_service/server/text_servicer.h"
#ifdef QWEN_HAVE_CUDA_ENGINE
#include "core/cuda/device_context.h"
#include "text_service/engine/cuda/cuda_backend.h"
#endif

ABSL_FLAG(std::string, model, "", "Hugging Face checkpoint directory (required)");
ABSL_FLAG(std::string, listen, "0.0.0.0:50052", "gRPC listen address");
ABSL_FLAG(int, metrics_port, 9092, "Prometheus /metrics port (0 = off)");
ABSL_FLAG(int64_t, max_running, 64, "sequences holding state at once");
ABSL_FLAG(int64_t, max_waiting, 256, "queued requests before RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_batched_tokens, 2048, "tokens per engine step (decode + prefill chunks)");
ABSL_FLAG(int64_t, max_context, 0, "prompt + generated token limit (0 = the model's)");
ABSL_FLAG(int64_t, default_max_tokens, 256, "max_tokens when a request leaves it unset");
ABSL_FLAG(int64_t, decode_reserve_tokens, 256,
          "generation room (tokens) a request reserves in the GPU cache when admitted; beyond it "
          "the cache grows step by step, preempting (and later recomputing) the newest requests "
          "when full. 0 = reserve all of max_tokens up front (never preempts, admits fewer)");
ABSL_FLAG(int, threads, 0, "CPU threads for the matrix products (0 = all cores)");
ABSL_FLAG(int, drain_timeout_s, 30, "seconds in-flight streams get to finish after SIGTERM");
ABSL_FLAG(int, max_receive_mb, 256, "largest request accepted (inline embeddings), MiB");
ABSL_FLAG(std::string, device, "cpu", "cpu (fp32 CPU model) or cuda (bf16 CUDA model on --gpu)");
ABSL_FLAG(int, gpu, 0, "CUDA device index (--device cuda)");
ABSL_FLAG(double, gpu_memory_fraction, 0.9,
          "share of the GPU memory left after weights and workspace that the KV cache and "
          "DeltaNet state slots take (--device cuda)");
ABSL_FLAG(bool, cuda_graphs, true, "replay decode steps as CUDA graphs (--device cuda)");

namespace {

absl::Status Run() {
  using namespace qwen;
  const std::string model_dir = absl::GetFlag(FLAGS_model);
  if (model_dir.empty()) return absl::InvalidArgumentError("--model is required");
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  serving::ServerOptions options{
      .listen_address = absl::GetFlag(FLAGS_listen),
      .metrics_port = absl::GetFlag(FLAGS_metrics_port),
      .max_receive_message_mb = absl::GetFlag(FLAGS_max_receive_mb),
      .drain_timeout = std::chrono::seconds(absl::GetFlag(FLAGS_drain_timeout_s)),
      .service_name = "qwen35.v1.TextGenerator"};
  serving::ServerRunner runner(options);
  text::TextMetrics metrics(runner.metrics());

  QWEN_LOG(Info) << "loading " << model_dir;
  auto t0 = std::chrono::steady_clock::now();
  QWEN_ASSIGN_OR_RETURN(core::GenerationConfig generation, core::LoadGenerationConfig(model_dir));
  const std::string device = absl::GetFlag(FLAGS_device);
  std::unique_ptr<text::TextModel> cpu_model;
  std::unique_ptr<text::DecoderBackend> backend;
#ifdef QWEN_HAVE_CUDA_ENGINE
  std::unique_ptr<core::cuda::DeviceContext> cuda_context;
  std::unique_ptr<text::cuda::CudaTextModel> cuda_model;
#endif
  if (device == "cpu") {
    QWEN_ASSIGN_OR_RETURN(cpu_model, text::TextModel::Load(model_dir));
    backend = std::make_unique<text::CpuBackend>(cpu_model.get(), threads);
  } else if (device == "cuda") {
#ifdef QWEN_HAVE_CUDA_ENGINE
    QWEN_ASSIGN_OR_RETURN(cuda_context,
                          core::cuda::DeviceContext::Create({.device = absl::GetFlag(FLAGS_gpu)}));
    const int64_t max_running = absl::GetFlag(FLAGS_max_running);
    QWEN_ASSIGN_OR_RETURN(
        cuda_model,
        text::cuda::CudaTextModel::Load(
            *cuda_context, model_dir,
            {.max_batched_tokens = std::max(absl::GetFlag(FLAGS_max_batched_tokens), max_running),
             .max_seqs = max_running,
             .max_context = absl::GetFlag(FLAGS_max_context),
             .gpu_memory_fraction = absl::GetFlag(FLAGS_gpu_memory_fraction),
             .cuda_graphs = absl::GetFlag(FLAGS_cuda_graphs)}));
    backend = std::make_unique<text::CudaBackend>(cuda_model.get());
#else
    return absl::FailedPreconditionError(
        "--device cuda: this text_service was built without the CUDA model");
#endif
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--device must be cpu or cuda, got '", device, "'"));
  }
  const core::TextConfig& config = backend->config();
  QWEN_LOG(Info) << "loaded in "
                 << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                 << " s on " << backend->Describe() << ": " << config.layer_types.size()
                 << " layers, hidden " << config.hidden_size;

  text::EngineOptions engine_options{
      .max_running = absl::GetFlag(FLAGS_max_running),
      .max_waiting = absl::GetFlag(FLAGS_max_waiting),
      .max_batched_tokens = absl::GetFlag(FLAGS_max_batched_tokens),
      .max_context = absl::GetFlag(FLAGS_max_context),
      .eos_token_ids = generation.eos_token_ids,
      .num_threads = threads,
      .decode_reserve_tokens = absl::GetFlag(FLAGS_decode_reserve_tokens)};
  // Warm-up before the engine owns the backend: one real forward (and, on the GPU, a first decode
  // step that captures the batch-1 CUDA graph) before reporting ready.
  {
    QWEN_ASSIGN_OR_RETURN(std::unique_ptr<text::DecoderState> state, backend->NewState(0, 2));
    const std::vector<int64_t> ids = {0};
    text::SamplingParams greedy{.temperature = 0.0};
    text::SamplerRng rng(0);
    for (int step = 0; step < 2; ++step) {
      const text::BackendRow row{
          .state = state.get(), .ids = ids, .sample = true, .sampling = &greedy, .rng = &rng};
      QWEN_RETURN_IF_ERROR(backend->Step(std::span(&row, 1)).status());
    }
  }
  text::Engine engine(backend.get(), engine_options);
  text::RequestDefaults defaults{.generation = generation,
                                 .max_tokens = absl::GetFlag(FLAGS_default_max_tokens),
                                 .hidden_size = config.hidden_size};
  const int64_t max_running = std::min(engine_options.max_running, backend->max_sequences());
  text::TextServicer service(&engine, defaults, &metrics,
                             std::filesystem::path(model_dir).filename().string(), max_running);
  QWEN_RETURN_IF_ERROR(runner.Start({&service}));
  runner.SetReady(true);
  QWEN_LOG(Info) << "ready";

  runner.ServeUntilSignal([&] { metrics.Update(engine.Stats(), max_running); },
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
  absl::SetProgramUsageMessage(
      "qwen35 text service: qwen35.v1.TextGenerator over a Qwen3.5 checkpoint");
  absl::ParseCommandLine(argc, argv);
  absl::Status s = Run();
  if (!s.ok()) {
    QWEN_LOG(Error) << s;
    return 1;
  }
  return 0;
}

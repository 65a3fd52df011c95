// vision_service: serves qwen35.v1.VisionEncoder for one checkpoint's vision tower.
#include <filesystem>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "core/status.h"
#include "server_common/server_runner.h"
#include "vision_service/model/vision_model.h"
#include "vision_service/server/encode_helpers.h"
#include "vision_service/server/vision_metrics.h"
#include "vision_service/server/vision_model_encoder.h"
#include "vision_service/server/vision_servicer.h"
#ifdef QWEN_HAVE_CUDA_ENCODER
#include "core/cuda/device_context.h"
#include "vision_service/model/cuda/cuda_vision_model.h"
#include "vision_service/server/cuda_vision_encoder.h"
#endif

ABSL_FLAG(std::string, model, "", "Hugging Face checkpoint directory (required)");
ABSL_FLAG(std::string, preprocessor_config, "",
          "image pre-processing config (default <model>/preprocessor_config.json; shipped Qwen3.5 values if absent)");
ABSL_FLAG(std::string, video_preprocessor_config, "",
          "video pre-processing config (default <model>/video_preprocessor_config.json; shipped values if absent)");
ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "gRPC listen address");
ABSL_FLAG(int, metrics_port, 9091, "Prometheus /metrics port (0 = off)");
ABSL_FLAG(int, drain_timeout_s, 30, "seconds in-flight streams get to finish after SIGTERM");
ABSL_FLAG(int, threads, 0, "CPU threads for the encoder's matrix products (0 = all cores)");
ABSL_FLAG(int, preprocess_threads, 2, "pre-processing workers (decode, resize, patchify)");
ABSL_FLAG(int64_t, max_batch_patches, 16384, "pre-merge patches per encoder call, across requests");
ABSL_FLAG(int, batch_wait_ms, 5, "how long a ready item waits for batch-mates");
ABSL_FLAG(int64_t, cache_mb, 1024, "embedding cache budget, MiB (0 = no cache)");
ABSL_FLAG(int64_t, max_items_per_request, 64, "media items per Encode request");
ABSL_FLAG(int64_t, max_image_bytes, int64_t{32} << 20, "encoded bytes of one image (or one video frame)");
ABSL_FLAG(int64_t, max_video_bytes, int64_t{256} << 20, "encoded bytes of one video (container or all frames)");
ABSL_FLAG(int64_t, max_pixels_per_image, int64_t{8192} * 8192, "decoded width x height of one image or frame");
ABSL_FLAG(int64_t, max_video_frames, 9000, "source frames of one video");
ABSL_FLAG(int64_t, max_queue, 256, "requests waiting for a worker before RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_receive_mb, 512, "largest request accepted, MiB (videos arrive inline)");
ABSL_FLAG(std::string, device, "cpu", "cpu (fp32 CPU encoder) or cuda (bf16 CUDA encoder on --gpu)");
ABSL_FLAG(int, gpu, 0, "CUDA device index (--device cuda)");
ABSL_FLAG(int64_t, gpu_max_patches, 65536,
          "patches the CUDA encoder's workspace holds (at least --max_batch_patches; 65536 = one "
          "image at the processor's default max_pixels); a larger item is INVALID_ARGUMENT");

namespace {

absl::Status Run() {
  using namespace qwen;
  const std::filesystem::path model_dir = absl::GetFlag(FLAGS_model);
  if (model_dir.empty()) return absl::InvalidArgumentError("--model is required");
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::filesystem::path image_cfg = absl::GetFlag(FLAGS_preprocessor_config);
  std::filesystem::path video_cfg = absl::GetFlag(FLAGS_video_preprocessor_config);
  if (image_cfg.empty()) image_cfg = model_dir / "preprocessor_config.json";
  if (video_cfg.empty()) video_cfg = model_dir / "video_preprocessor_config.json";

  serving::ServerOptions options{.listen_address = absl::GetFlag(FLAGS_listen),
                                 .metrics_port = absl::GetFlag(FLAGS_metrics_port),
                                 .max_receive_message_mb = absl::GetFlag(FLAGS_max_receive_mb),
                                 .drain_timeout = std::chrono::seconds(absl::GetFlag(FLAGS_drain_timeout_s)),
                                 .service_name = "qwen35.v1.VisionEncoder"};
  serving::ServerRunner runner(options);
  vision::VisionMetrics metrics(runner.metrics());

  QWEN_LOG(Info) << "loading the vision encoder of " << model_dir.string();
  auto t0 = std::chrono::steady_clock::now();
  QWEN_ASSIGN_OR_RETURN(vision::ProcessorConfigs configs, vision::LoadProcessorConfigs(image_cfg, video_cfg));
  const std::string device = absl::GetFlag(FLAGS_device);
  std::unique_ptr<vision::VisionModel> cpu_model;
  std::unique_ptr<vision::BatchEncoder> encoder;
#ifdef QWEN_HAVE_CUDA_ENCODER
  std::unique_ptr<core::cuda::DeviceContext> cuda_context;
  std::unique_ptr<vision::cuda::CudaVisionModel> cuda_model;
#endif
  if (device == "cpu") {
    QWEN_ASSIGN_OR_RETURN(cpu_model, vision::VisionModel::Load(model_dir));
    encoder = std::make_unique<vision::VisionModelEncoder>(cpu_model.get(),
                                                           vision::VisionContext{.num_threads = threads});
  } else if (device == "cuda") {
#ifdef QWEN_HAVE_CUDA_ENCODER
    QWEN_ASSIGN_OR_RETURN(cuda_context, core::cuda::DeviceContext::Create({.device = absl::GetFlag(FLAGS_gpu)}));
    const int64_t max_patches = std::max(absl::GetFlag(FLAGS_gpu_max_patches), absl::GetFlag(FLAGS_max_batch_patches));
    QWEN_ASSIGN_OR_RETURN(cuda_model,
                          vision::cuda::CudaVisionModel::Load(*cuda_context, model_dir, {.max_patches = max_patches}));
    encoder = std::make_unique<vision::CudaVisionEncoder>(cuda_model.get());
#else
    return absl::FailedPreconditionError("--device cuda: this vision_service was built without the CUDA encoder");
#endif
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--device must be cpu or cuda, got '", device, "'"));
  }
  QWEN_RETURN_IF_ERROR(vision::CheckProcessorMatchesEncoder(configs, encoder->info()));
  QWEN_LOG(Info) << "loaded in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                 << " s on " << device << ": out_hidden " << encoder->info().out_hidden_size;

  vision::EncodeLimits limits{.max_items_per_request = absl::GetFlag(FLAGS_max_items_per_request),
                              .max_image_bytes = absl::GetFlag(FLAGS_max_image_bytes),
                              .max_video_bytes = absl::GetFlag(FLAGS_max_video_bytes),
                              .max_pixels_per_image = absl::GetFlag(FLAGS_max_pixels_per_image),
                              .max_video_frames = absl::GetFlag(FLAGS_max_video_frames),
                              .max_queue = absl::GetFlag(FLAGS_max_queue)};
  vision::MediaPreprocessor preprocessor(std::move(configs), limits);
  vision::EncodeScheduler scheduler(
      encoder.get(), &preprocessor,
      {.preprocess_threads = absl::GetFlag(FLAGS_preprocess_threads),
       .max_batch_patches = absl::GetFlag(FLAGS_max_batch_patches),
       .batch_wait = std::chrono::milliseconds(absl::GetFlag(FLAGS_batch_wait_ms)),
       .cache_bytes = static_cast<size_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_cache_mb))) << 20});
  vision::VisionServicer service(&scheduler, &metrics, model_dir.filename().string());
  QWEN_RETURN_IF_ERROR(runner.Start({&service}));

  // Warm-up: one real encode of a tiny synthetic image before reporting ready.
  {
    const std::string bmp = vision::SyntheticBmp(64, 48);
    vision::MediaInput image;
    image.encoded = bmp;
    auto warm = vision::EncodeSync(scheduler, "warm-up", {image});
    if (!warm.ok()) return absl::Status(warm.status().code(), absl::StrCat("warm-up encode failed: ",
                                                                            std::string(warm.status().message())));
  }
  runner.SetReady(true);
  QWEN_LOG(Info) << "ready";

  runner.ServeUntilSignal(
      [&] { metrics.Update(scheduler.stats()); },
      [&] {
        service.SetDraining();
        scheduler.StopAccepting();
      },
      [&] {
        vision::SchedulerStats s = scheduler.stats();
        return s.running == 0 && s.waiting == 0 && service.open_streams() == 0;
      });
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  qwen::serving::BlockTerminationSignals();
  absl::SetProgramUsageMessage("qwen35 vision service: qwen35.v1.VisionEncoder over a Qwen3.5 checkpoint");
  absl::ParseCommandLine(argc, argv);
  absl::Status s = Run();
  if (!s.ok()) {
    QWEN_LOG(Error) << s;
    return 1;
  }
  return 0;
}

// qwen35 preprocess-image / preprocess-video: Hugging Face-compatible pre-processing of one image
// or video (shared/REFERENCE_CASES.md, kinds `image_preprocess` / `video_preprocess`; MODEL.md §6).
// Built with vision_service/preprocess when OpenCV is available (QWEN_HAVE_OPENCV); otherwise both
// commands explain that this build has no vision pre-processing.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"

#ifdef QWEN_HAVE_OPENCV
#include "vision_service/preprocess/image_preprocessor.h"
#include "vision_service/preprocess/video_preprocessor.h"
#endif

namespace qwen::tools {
namespace {

const std::vector<FlagSpec> kImageFlags = {
    {"image", "image file (JPEG, PNG, GIF (first frame), BMP or WebP)", false, true},
    {"config", "Hugging Face preprocessor_config.json", false, true},
    {"out", "output .safetensors (pixel_values f32 [P, 1536], image_grid_thw i64 [1, 3])", false,
     true},
    {"max-pixels",
     "reject images with more decoded pixels than this (default 178956970, PIL's limit)"},
};

const std::vector<FlagSpec> kVideoFlags = {
    {"video", "video file (any container/codec OpenCV's FFmpeg backend reads)", false, true},
    {"config", "Hugging Face video_preprocessor_config.json", false, true},
    {"out",
     "output .safetensors (pixel_values_videos f32 [P, 1536], video_grid_thw i64 [1, 3], "
     "frame_indices i64 [n], "
     "timestamps f32 [n'/2])",
     false, true},
};

#ifdef QWEN_HAVE_OPENCV

core::Tensor GridTensor(const vision::GridThw& g) {
  return core::Tensor::FromVector<int64_t>({g.t, g.h, g.w}, {1, 3});
}

absl::Status RunImage(const Args& args) {
  QWEN_ASSIGN_OR_RETURN(vision::ImageProcessorConfig cfg,
                        vision::LoadImageProcessorConfig(args.Get("config")));
  vision::ImageDecodeOptions options;
  QWEN_ASSIGN_OR_RETURN(options.max_pixels, args.GetInt("max-pixels", options.max_pixels));
  if (options.max_pixels < 1) return absl::InvalidArgumentError("--max-pixels must be positive");
  QWEN_ASSIGN_OR_RETURN(vision::PreprocessedImage r,
                        vision::PreprocessImageFile(args.Get("image"), cfg, options));
  std::map<std::string, core::Tensor> out;
  out["pixel_values"] = r.pixel_values;
  out["image_grid_thw"] = GridTensor(r.grid);
  QWEN_RETURN_IF_ERROR(core::WriteSafetensors(args.Get("out"), out));
  std::fprintf(stderr, "resized to %lldx%lld, grid_thw (%lld, %lld, %lld), %lld image tokens\n",
               static_cast<long long>(r.resized.height), static_cast<long long>(r.resized.width),
               static_cast<long long>(r.grid.t), static_cast<long long>(r.grid.h),
               static_cast<long long>(r.grid.w), static_cast<long long>(r.num_tokens));
  return absl::OkStatus();
}

absl::Status RunVideo(const Args& args) {
  QWEN_ASSIGN_OR_RETURN(vision::VideoProcessorConfig cfg,
                        vision::LoadVideoProcessorConfig(args.Get("config")));
  QWEN_ASSIGN_OR_RETURN(vision::PreprocessedVideo r,
                        vision::PreprocessVideoFile(args.Get("video"), cfg));
  std::vector<float> timestamps(r.timestamps.begin(), r.timestamps.end());
  std::map<std::string, core::Tensor> out;
  out["pixel_values_videos"] = r.pixel_values_videos;
  out["video_grid_thw"] = GridTensor(r.grid);
  out["frame_indices"] =
      core::Tensor::FromVector(r.frame_indices, {static_cast<int64_t>(r.frame_indices.size())});
  out["timestamps"] =
      core::Tensor::FromVector(timestamps, {static_cast<int64_t>(timestamps.size())});
  QWEN_RETURN_IF_ERROR(core::WriteSafetensors(args.Get("out"), out));
  std::fprintf(
      stderr, "%zu frames sampled at %.3f fps, resized to %lldx%lld, grid_thw (%lld, %lld, %lld)\n",
      r.frame_indices.size(), r.fps, static_cast<long long>(r.resized.height),
      static_cast<long long>(r.resized.width), static_cast<long long>(r.grid.t),
      static_cast<long long>(r.grid.h), static_cast<long long>(r.grid.w));
  return absl::OkStatus();
}

#else  // QWEN_HAVE_OPENCV

absl::Status Unavailable(const Args&) {
  return absl::UnimplementedError(
      "this qwen35 was built without OpenCV, so it has no image/video pre-processing; install the "
      "OpenCV "
      "core/imgproc/imgcodecs/videoio development packages and rebuild");
}
absl::Status RunImage(const Args& args) { return Unavailable(args); }
absl::Status RunVideo(const Args& args) { return Unavailable(args); }

#endif  // QWEN_HAVE_OPENCV

int RunCommand(const char* name, const char* summary, const std::vector<FlagSpec>& flags,
               absl::Status (*run)(const Args&), int argc, char** argv) {
  auto args = Args::Parse(argc, argv, flags);
  if (!args.ok()) {
    std::fprintf(stderr, "qwen35 %s: %s\n", name, std::string(args.status().message()).c_str());
    return 2;
  }
  if (args->help()) {
    std::fputs(Args::Usage(name, summary, flags).c_str(), stdout);
    return 0;
  }
  absl::Status s = run(*args);
  return s.ok() ? 0 : ReportError(name, s);
}

}  // namespace

int RunPreprocessImage(int argc, char** argv) {
  return RunCommand("preprocess-image",
                    "Pre-process one image as Hugging Face's Qwen3.5 processor does.", kImageFlags,
                    &RunImage, argc, argv);
}

int RunPreprocessVideo(int argc, char** argv) {
  return RunCommand("preprocess-video",
                    "Pre-process one video as Hugging Face's Qwen3.5 processor does.", kVideoFlags,
                    &RunVideo, argc, argv);
}

}  // namespace qwen::tools

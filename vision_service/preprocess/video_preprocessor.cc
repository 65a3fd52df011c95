#include "vision_service/preprocess/video_preprocessor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "vision_service/preprocess/frame_sampling.h"
#include "vision_service/preprocess/resize.h"

namespace qwen::vision {
namespace {

FrameSampler ConfigSampler(const VideoProcessorConfig& config) {
  return [&config](int64_t total, std::optional<double> fps) {
    return SampleFrameIndices(total, fps, config);
  };
}

}  // namespace

absl::StatusOr<PreprocessedVideo> PreprocessSampledFrames(const std::vector<RgbImage>& frames,
                                                          std::vector<int64_t> frame_indices,
                                                          std::optional<double> video_fps,
                                                          const VideoProcessorConfig& config) {
  const ImageProcessorConfig& ic = config.image;
  if (frames.empty()) return absl::InvalidArgumentError("video has no frames");
  if (frame_indices.size() != frames.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(frames.size(), " frames but ", frame_indices.size(), " frame indices"));
  }
  const int64_t height = frames[0].height, width = frames[0].width;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].height != height || frames[i].width != width || frames[i].empty() ||
        frames[i].pixels.size() != static_cast<size_t>(height * width * 3)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "video frame ", i, " is ", frames[i].width, "x", frames[i].height, " but frame 0 is ",
          width, "x", height, " (frames must be non-empty and equal in size)"));
    }
  }
  if (video_fps.has_value() && !(*video_fps > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("video fps must be positive, got ", *video_fps));
  }
  const int64_t n = frames.size();
  PreprocessedVideo out;
  std::vector<RgbImage> resized_frames;
  std::vector<const RgbImage*> ptrs;
  if (ic.do_resize) {
    int64_t max_pixels = ic.max_pixels;
    if (config.cap_pixels_per_frame) {
      // qwen-vl-utils' per-frame cap (Qwen3VLVideoProcessor.resize with cap_pixels_per_frame=True).
      const int64_t frame_cap = 768 * ic.factor() * ic.factor();
      const int64_t floor_px = static_cast<int64_t>(static_cast<double>(ic.min_pixels) * 1.05);
      max_pixels = std::max(std::min(frame_cap, ic.max_pixels / n), floor_px) * n;
    }
    QWEN_ASSIGN_OR_RETURN(out.resized, SmartResizeVideo(n, height, width, ic.temporal_patch_size,
                                                        ic.factor(), ic.min_pixels, max_pixels));
    if (out.resized.height != height || out.resized.width != width) {
      QWEN_ASSIGN_OR_RETURN(
          BicubicAntialiasResizer resizer,
          BicubicAntialiasResizer::Create(height, width, out.resized.height, out.resized.width));
      resized_frames.reserve(n);
      for (const RgbImage& f : frames) {
        QWEN_ASSIGN_OR_RETURN(RgbImage r, resizer.Resize(f));
        resized_frames.push_back(std::move(r));
      }
      for (const RgbImage& f : resized_frames) ptrs.push_back(&f);
    }
  } else {
    out.resized = ResizedSize{height, width};
  }
  if (ptrs.empty()) {
    for (const RgbImage& f : frames) ptrs.push_back(&f);
  }
  // Pads to a multiple of temporal_patch_size by repeating the last frame (MODEL.md §6.3 step 3).
  QWEN_ASSIGN_OR_RETURN(out.pixel_values_videos, NormalizeAndPatchify(ptrs, ic, &out.grid));
  out.fps = video_fps.value_or(kDefaultVideoFps);
  out.timestamps = GroupTimestamps(frame_indices, out.fps, ic.temporal_patch_size);
  out.frame_indices = std::move(frame_indices);
  out.tokens_per_group = out.grid.h * out.grid.w / (ic.merge_size * ic.merge_size);
  return out;
}

absl::StatusOr<PreprocessedVideo> PreprocessVideoFrames(const std::vector<RgbImage>& all_frames,
                                                        std::optional<double> video_fps,
                                                        const VideoProcessorConfig& config) {
  QWEN_ASSIGN_OR_RETURN(
      std::vector<int64_t> indices,
      SampleFrameIndices(static_cast<int64_t>(all_frames.size()), video_fps, config));
  std::vector<RgbImage> sampled;
  sampled.reserve(indices.size());
  for (int64_t i : indices) sampled.push_back(all_frames[i]);
  return PreprocessSampledFrames(sampled, std::move(indices), video_fps, config);
}

absl::StatusOr<PreprocessedVideo> PreprocessVideoFile(const std::filesystem::path& path,
                                                      const VideoProcessorConfig& config,
                                                      const VideoDecodeOptions& options) {
  QWEN_ASSIGN_OR_RETURN(SampledVideo v, DecodeVideoFile(path, ConfigSampler(config), options));
  absl::StatusOr<PreprocessedVideo> r =
      PreprocessSampledFrames(v.frames, std::move(v.frame_indices), v.metadata.fps, config);
  if (!r.ok())
    return absl::Status(r.status().code(), absl::StrCat(path.string(), ": ", r.status().message()));
  return r;
}

absl::StatusOr<PreprocessedVideo> PreprocessVideoBytes(std::string_view bytes,
                                                       const VideoProcessorConfig& config,
                                                       const VideoDecodeOptions& options) {
  QWEN_ASSIGN_OR_RETURN(SampledVideo v, DecodeVideoBytes(bytes, ConfigSampler(config), options));
  return PreprocessSampledFrames(v.frames, std::move(v.frame_indices), v.metadata.fps, config);
}

}  // namespace qwen::vision

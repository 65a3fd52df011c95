// Video pre-processing end to end (MODEL.md §6.3): sample frames -> video smart_resize -> the image
// resize/normalisation -> pad to a multiple of temporal_patch_size -> patchify, plus the frame
// indices and per-group timestamps for the prompt. Output matches HF's Qwen3VLVideoProcessor
// (`pixel_values_videos`, `video_grid_thw`) and Qwen3VLProcessor's timestamps.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "vision_service/preprocess/image.h"
#include "vision_service/preprocess/patchify.h"
#include "vision_service/preprocess/preprocess_config.h"
#include "vision_service/preprocess/smart_resize.h"
#include "vision_service/preprocess/video_decode.h"

namespace qwen::vision {

struct PreprocessedVideo {
  core::Tensor pixel_values_videos;    // f32 [grid.t * grid.h * grid.w, patch_dim]
  GridThw grid;                        // grid.t = padded frames / temporal_patch_size
  std::vector<int64_t> frame_indices;  // sampled source frames (before temporal padding)
  std::vector<double> timestamps;      // seconds, one per temporal group (grid.t values)
  double fps = 0;                      // source fps used for the timestamps (24 when unknown)
  ResizedSize resized;                 // per-frame pixel size after smart_resize
  int64_t tokens_per_group = 0;        // grid.h * grid.w / merge_size^2 (<|video_pad|> per group)
};

// Frames already sampled, with their source indices (same length, non-decreasing) and the source
// fps (nullopt = unknown: 24 is used, as HF). InvalidArgument for fewer frames than
// temporal_patch_size (HF's "t must be larger than temporal_factor"), frames of different sizes,
// ...
absl::StatusOr<PreprocessedVideo> PreprocessSampledFrames(const std::vector<RgbImage>& frames,
                                                          std::vector<int64_t> frame_indices,
                                                          std::optional<double> video_fps,
                                                          const VideoProcessorConfig& config);

// Every decoded frame of a video plus its fps ("pre-decoded RGB frames"): samples per the config
// first (frame_sampling.h), then as PreprocessSampledFrames.
absl::StatusOr<PreprocessedVideo> PreprocessVideoFrames(const std::vector<RgbImage>& all_frames,
                                                        std::optional<double> video_fps,
                                                        const VideoProcessorConfig& config);

// Decoding with OpenCV (video_decode.h), only the sampled frames are kept.
absl::StatusOr<PreprocessedVideo> PreprocessVideoFile(const std::filesystem::path& path,
                                                      const VideoProcessorConfig& config,
                                                      const VideoDecodeOptions& options = {});
absl::StatusOr<PreprocessedVideo> PreprocessVideoBytes(std::string_view bytes,
                                                       const VideoProcessorConfig& config,
                                                       const VideoDecodeOptions& options = {});

}  // namespace qwen::vision

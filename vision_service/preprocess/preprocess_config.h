// Pre-processing configuration, parsed from Hugging Face `preprocessor_config.json` (images,
// Qwen2VLImageProcessor) and `video_preprocessor_config.json` (videos, Qwen3VLVideoProcessor).
//
// Keys read (MODEL.md §6.1):
//   size.shortest_edge / size.longest_edge   min / max PIXELS (not edges) [TRAP: the names lie]
//   size.min_pixels / size.max_pixels        legacy Qwen2-VL spelling of the same, accepted
//   min_pixels / max_pixels (top level)      legacy keys; override `size` as HF's constructor does
//   patch_size, temporal_patch_size, merge_size, image_mean, image_std   required: the HF class
//       defaults (patch 14, CLIP mean/std) differ from the Qwen3.5 values, so a config missing them
//       is rejected rather than silently given the wrong defaults
//   do_resize, do_rescale, do_normalize, do_convert_rgb (default true), rescale_factor (1/255),
//   resample (3 = BICUBIC, the only one implemented)
//   videos only: do_sample_frames (true), fps (2), min_frames (4), max_frames (768),
//       num_frames (null), cap_pixels_per_frame (null = false, HF's current default)
// Unknown keys are ignored (HF configs carry many). Errors name the file and the field.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace qwen::vision {

struct ImageProcessorConfig {
  bool do_resize = true;
  int64_t min_pixels = 65536;     // size.shortest_edge
  int64_t max_pixels = 16777216;  // size.longest_edge
  int resample = 3;               // PIL BICUBIC
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> image_mean = {0.5, 0.5, 0.5};
  std::array<double, 3> image_std = {0.5, 0.5, 0.5};
  bool do_convert_rgb = true;
  int64_t patch_size = 16;
  int64_t temporal_patch_size = 2;
  int64_t merge_size = 2;

  // smart_resize's `factor` (32 for Qwen3.5).
  int64_t factor() const { return patch_size * merge_size; }
  // Length of one pixel_values row: C * temporal_patch_size * patch_size^2 (1536 for Qwen3.5).
  int64_t patch_dim() const { return 3 * temporal_patch_size * patch_size * patch_size; }
};

struct VideoProcessorConfig {
  // Fields shared with images; min/max_pixels here are the video budget (sum over frames).
  ImageProcessorConfig image = {.min_pixels = 4096, .max_pixels = 25165824};
  bool do_sample_frames = true;
  std::optional<double> fps = 2.0;  // target sampling rate (frames per second)
  std::optional<int64_t> num_frames;
  int64_t min_frames = 4;
  int64_t max_frames = 768;
  bool cap_pixels_per_frame = false;
};

// The shipped Qwen3.5 configs (MODEL.md §6.1) — what the default-constructed structs hold.
ImageProcessorConfig Qwen35ImageProcessorConfig();
VideoProcessorConfig Qwen35VideoProcessorConfig();

// `source` names the file in error messages.
absl::StatusOr<ImageProcessorConfig> ParseImageProcessorConfig(std::string_view json_text,
                                                               std::string_view source);
absl::StatusOr<VideoProcessorConfig> ParseVideoProcessorConfig(std::string_view json_text,
                                                               std::string_view source);
absl::StatusOr<ImageProcessorConfig> LoadImageProcessorConfig(const std::filesystem::path& path);
absl::StatusOr<VideoProcessorConfig> LoadVideoProcessorConfig(const std::filesystem::path& path);

}  // namespace qwen::vision

// smart_resize: the target size of an image or of every frame of a video (MODEL.md §6.2 step 2 and
// §6.3 step 2), reproducing HF's Python arithmetic exactly (IEEE doubles, Python round = half to
// even, math.floor / math.ceil).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"

namespace qwen::vision {

struct ResizedSize {
  int64_t height = 0;
  int64_t width = 0;
  friend bool operator==(const ResizedSize&, const ResizedSize&) = default;
};

// Python's round(x) for a float: nearest integer, ties to even. TRAP: not std::round (ties away).
int64_t PyRound(double x);

// Qwen2VLImageProcessor's smart_resize. InvalidArgument for a zero/negative size or an aspect ratio
// above 200 (message names both sizes and the ratio).
absl::StatusOr<ResizedSize> SmartResizeImage(int64_t height, int64_t width, int64_t factor,
                                             int64_t min_pixels, int64_t max_pixels);

// Qwen3VLVideoProcessor's smart_resize for `num_frames` sampled frames (before temporal padding).
// InvalidArgument when num_frames < temporal_factor (as HF), for a zero size or aspect ratio > 200.
absl::StatusOr<ResizedSize> SmartResizeVideo(int64_t num_frames, int64_t height, int64_t width,
                                             int64_t temporal_factor, int64_t factor,
                                             int64_t min_pixels, int64_t max_pixels);

}  // namespace qwen::vision

// Video frame sampling and timestamps (MODEL.md §6.3 steps 1 and 4), reproducing
// Qwen3VLVideoProcessor.sample_frames and Qwen3VLProcessor._calculate_timestamps.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "vision_service/preprocess/preprocess_config.h"

namespace qwen::vision {

// HF's assumption when a video has no fps metadata.
inline constexpr double kDefaultVideoFps = 24.0;

// numpy.linspace(start, stop, num) (endpoint=True) in float64, element for element: i * step for
// i < num - 1 with step = (stop - start) / (num - 1), the last element exactly `stop`.
std::vector<double> NumpyLinspace(double start, double stop, int64_t num);

// Source frame indices to keep, for a video of `total_frames` frames at `video_fps` (nullopt:
// unknown, HF then assumes 24):
//   do_sample_frames false: every frame;
//   fps set (Qwen3.5: 2): n = int(total / video_fps * fps); n = min(max(n, min_frames), max_frames,
//   total); num_frames set instead: n = num_frames; neither: n = min(max(total, min_frames),
//   max_frames); indices = round(linspace(0, total - 1, n)) — TRAP: NumPy rounds half to even (17.5
//   -> 18, 4.5 -> 4).
// InvalidArgument for total_frames < 1 or both fps and num_frames set (HF raises too).
absl::StatusOr<std::vector<int64_t>> SampleFrameIndices(int64_t total_frames,
                                                        std::optional<double> video_fps,
                                                        const VideoProcessorConfig& config);

// One timestamp (seconds) per temporal group: indices padded to a multiple of `group` by repeating
// the last, ts_i = index_i / video_fps, T_g = (ts_first + ts_last of group g) / 2. HF passes the
// processor's merge_size (2) as the group; Qwen3.5 has temporal_patch_size == merge_size == 2 and
// the caller passes temporal_patch_size so there is one timestamp per grid_t step.
std::vector<double> GroupTimestamps(const std::vector<int64_t>& indices, double video_fps,
                                    int64_t group);

}  // namespace qwen::vision

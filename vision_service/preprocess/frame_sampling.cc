#include "vision_service/preprocess/frame_sampling.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "vision_service/preprocess/smart_resize.h"

namespace qwen::vision {

std::vector<double> NumpyLinspace(double start, double stop, int64_t num) {
  std::vector<double> y;
  if (num <= 0) return y;
  y.resize(num);
  const int64_t div = num - 1;
  const double delta = stop - start;
  if (div == 0) {
    y[0] = 0.0 * delta + start;
    return y;
  }
  const double step = delta / static_cast<double>(div);
  for (int64_t i = 0; i < num; ++i) {
    // numpy: y = arange(num) * step (or (arange / div) * delta when step == 0), then y += start.
    const double v = (step == 0.0) ? (static_cast<double>(i) / static_cast<double>(div)) * delta
                                   : static_cast<double>(i) * step;
    y[i] = v + start;
  }
  y[num - 1] = stop;
  return y;
}

absl::StatusOr<std::vector<int64_t>> SampleFrameIndices(int64_t total_frames,
                                                        std::optional<double> video_fps,
                                                        const VideoProcessorConfig& config) {
  if (total_frames < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("video contains no frames (total frames ", total_frames, ")"));
  }
  std::vector<int64_t> indices;
  if (!config.do_sample_frames) {
    for (int64_t i = 0; i < total_frames; ++i) indices.push_back(i);
    return indices;
  }
  if (config.fps.has_value() && config.num_frames.has_value()) {
    return absl::InvalidArgumentError(
        "video config sets both fps and num_frames; they are mutually exclusive");
  }
  int64_t n;
  if (config.fps.has_value()) {
    const double src_fps = video_fps.value_or(kDefaultVideoFps);
    // Python: int(total_num_frames / metadata.fps * fps) — float64, truncation toward zero.
    const double want = static_cast<double>(total_frames) / src_fps * *config.fps;
    n = static_cast<int64_t>(std::min(want, 1e15));
    n = std::min({std::max(n, config.min_frames), config.max_frames, total_frames});
  } else if (config.num_frames.has_value()) {
    n = *config.num_frames;
  } else {
    n = std::min(std::max(total_frames, config.min_frames), config.max_frames);
  }
  if (n < 1 || n > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot sample ", n, " frames"));
  }
  for (double v : NumpyLinspace(0.0, static_cast<double>(total_frames - 1), n))
    indices.push_back(PyRound(v));
  return indices;
}

std::vector<double> GroupTimestamps(const std::vector<int64_t>& indices, double video_fps,
                                    int64_t group) {
  std::vector<double> out;
  if (indices.empty() || group < 1) return out;
  std::vector<int64_t> padded = indices;
  while (padded.size() % group != 0) padded.push_back(indices.back());
  for (size_t g = 0; g < padded.size(); g += group) {
    const double first = static_cast<double>(padded[g]) / video_fps;
    const double last = static_cast<double>(padded[g + group - 1]) / video_fps;
    out.push_back((first + last) / 2);
  }
  return out;
}

}  // namespace qwen::vision

// Video decoding with OpenCV videoio (FFmpeg backend forced), keeping only the sampled frames.
//
// Containers / codecs checked on this Debian 12 build (OpenCV 4.6.0, libavcodec 59 / FFmpeg 5.1),
// writing with cv::VideoWriter and reading back: MP4 (H.264 'avc1', MPEG-4 'mp4v'), MOV (H.264),
// WebM (VP8, VP9), MKV (FFV1, H.264, PNG), AVI (FFV1, MJPG, XVID, raw I420) all open, report fps
// and frame count, and decode; FFV1 (MKV or AVI) and PNG-in-MKV round-trip bit-exactly, the others
// are lossy. Anything FFmpeg 5.1 demuxes/decodes should work; there is no allow-list.
//
// Frame count: CAP_PROP_FRAME_COUNT is trusted when positive (FFmpeg's nb_frames, or its estimate
// from duration * fps); it is unreliable for some containers, so when the stream ends before the
// last sampled index the true count (frames actually read) replaces it and sampling is redone on a
// second pass; when it is missing the frames are counted first. fps: CAP_PROP_FPS when positive,
// else unknown (HF then assumes 24).
//
// Colour: OpenCV converts YUV to BGR with swscale (BGR24); HF's decoders (torchcodec / PyAV) also
// use FFmpeg's conversion, but flags may differ, so decoded pixels can differ by a few levels from
// HF's for YUV codecs. Pre-decoded frames (video_preprocessor.h) avoid the question.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "vision_service/preprocess/image.h"

namespace qwen::vision {

struct VideoDecodeOptions {
  int64_t max_bytes = int64_t{2} << 30;             // encoded size limit (bytes input)
  int64_t max_frame_pixels = int64_t{8192} * 8192;  // per decoded frame
  int64_t max_total_frames = 1'000'000;             // frames scanned when counting
  bool always_count_frames =
      false;  // ignore CAP_PROP_FRAME_COUNT; count by decoding (one more pass)
};

struct VideoMetadata {
  int64_t total_frames = 0;
  std::optional<double> fps;  // nullopt when the container reports none
  int64_t width = 0;
  int64_t height = 0;
  bool counted = false;  // total_frames from counting decoded frames (property missing or wrong)
};

struct SampledVideo {
  VideoMetadata metadata;
  std::vector<int64_t> frame_indices;  // sampled source indices, non-decreasing
  std::vector<RgbImage> frames;        // one per index
};

// (total frames, fps) -> non-decreasing indices in [0, total).
using FrameSampler =
    std::function<absl::StatusOr<std::vector<int64_t>>(int64_t, std::optional<double>)>;

// InvalidArgument: unreadable file / unsupported container or codec, no frames, frames of changing
// or oversized dimensions, sampler indices out of range. NotFound: missing file.
absl::StatusOr<SampledVideo> DecodeVideoFile(const std::filesystem::path& path,
                                             const FrameSampler& sampler,
                                             const VideoDecodeOptions& options = {});

// Same from bytes, through a private temporary file (OpenCV 4.6 cannot read from memory).
absl::StatusOr<SampledVideo> DecodeVideoBytes(std::string_view bytes, const FrameSampler& sampler,
                                              const VideoDecodeOptions& options = {});

// Every frame, in order, the count established by decoding (tests and tools).
absl::StatusOr<SampledVideo> DecodeAllVideoFrames(const std::filesystem::path& path,
                                                  const VideoDecodeOptions& options = {});

}  // namespace qwen::vision

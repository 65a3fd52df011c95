#include "vision_service/preprocess/video_decode.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <exception>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace qwen::vision {
namespace {

// Opens `path` with the FFmpeg backend. OpenCV exceptions are converted here.
absl::Status Open(const std::filesystem::path& path, cv::VideoCapture* cap) {
  try {
    if (!cap->open(path.string(), cv::CAP_FFMPEG) || !cap->isOpened()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot read video ", path.string(), ": not a video, or an unsupported container/codec"));
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read video ", path.string(), ": ", e.what()));
  }
  return absl::OkStatus();
}

// grab() / retrieve() with exceptions converted; grab returns false at the end of the stream.
absl::StatusOr<bool> Grab(cv::VideoCapture& cap, const std::filesystem::path& path) {
  try {
    return cap.grab();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("error decoding video ", path.string(), ": ", e.what()));
  }
}

absl::StatusOr<RgbImage> Retrieve(cv::VideoCapture& cap, const std::filesystem::path& path,
                                  int64_t index, const VideoDecodeOptions& options) {
  cv::Mat m;
  try {
    if (!cap.retrieve(m) || m.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot decode frame ", index, " of video ", path.string()));
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("error decoding frame ", index, " of video ", path.string(), ": ", e.what()));
  }
  const int ch = m.channels();
  if (m.depth() != CV_8U || (ch != 1 && ch != 3 && ch != 4)) {
    return absl::UnimplementedError(absl::StrCat("video ", path.string(), ": frame ", index,
                                                 " has an unsupported pixel type (OpenCV type ",
                                                 m.type(), ")"));
  }
  if (static_cast<int64_t>(m.rows) * m.cols > options.max_frame_pixels) {
    return absl::InvalidArgumentError(absl::StrCat("video ", path.string(), ": frame of ", m.cols,
                                                   "x", m.rows, " exceeds the limit of ",
                                                   options.max_frame_pixels, " pixels"));
  }
  QWEN_ASSIGN_OR_RETURN(RgbImage out, RgbImage::Create(m.rows, m.cols));
  for (int y = 0; y < m.rows; ++y) {
    const uint8_t* src = m.ptr<uint8_t>(y);
    uint8_t* dst = out.row(y);
    for (int x = 0; x < m.cols; ++x) {
      if (ch == 1) {
        dst[x * 3] = dst[x * 3 + 1] = dst[x * 3 + 2] = src[x];
      } else {  // BGR(A) -> RGB
        dst[x * 3 + 0] = src[x * ch + 2];
        dst[x * 3 + 1] = src[x * ch + 1];
        dst[x * 3 + 2] = src[x * ch + 0];
      }
    }
  }
  return out;
}

// Counts the frames by grabbing them all (no colour conversion).
absl::StatusOr<int64_t> CountFrames(const std::filesystem::path& path,
                                    const VideoDecodeOptions& options) {
  cv::VideoCapture cap;
  QWEN_RETURN_IF_ERROR(Open(path, &cap));
  int64_t n = 0;
  while (true) {
    QWEN_ASSIGN_OR_RETURN(bool ok, Grab(cap, path));
    if (!ok) break;
    if (++n > options.max_total_frames) {
      return absl::InvalidArgumentError(absl::StrCat("video ", path.string(), " has more than ",
                                                     options.max_total_frames, " frames"));
    }
  }
  return n;
}

// One sequential pass keeping the frames at `indices`. Sets *read_all_needed false when the stream
// ended first; *frames_seen is the number of frames passed.
absl::StatusOr<std::vector<RgbImage>> ReadFrames(const std::filesystem::path& path,
                                                 const std::vector<int64_t>& indices,
                                                 const VideoDecodeOptions& options, bool* complete,
                                                 int64_t* frames_seen) {
  cv::VideoCapture cap;
  QWEN_RETURN_IF_ERROR(Open(path, &cap));
  std::vector<RgbImage> frames;
  frames.reserve(indices.size());
  size_t k = 0;
  int64_t frame = 0;
  *complete = false;
  while (k < indices.size()) {
    QWEN_ASSIGN_OR_RETURN(bool ok, Grab(cap, path));
    if (!ok) break;
    if (frame == indices[k]) {
      QWEN_ASSIGN_OR_RETURN(RgbImage img, Retrieve(cap, path, frame, options));
      if (!frames.empty() && (img.height != frames[0].height || img.width != frames[0].width)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "video ", path.string(), ": frame ", frame, " is ", img.width, "x", img.height,
            " but frame ", indices[0], " is ", frames[0].width, "x", frames[0].height));
      }
      // Repeated indices (more samples than frames) share the decoded frame.
      while (k < indices.size() && indices[k] == frame) {
        frames.push_back(img);
        ++k;
      }
    }
    ++frame;
  }
  *complete = k == indices.size();
  *frames_seen = frame;
  return frames;
}

absl::Status CheckIndices(const std::vector<int64_t>& indices, int64_t total) {
  for (size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < 0 || indices[i] >= total || (i > 0 && indices[i] < indices[i - 1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("frame sampler returned index ", indices[i], " at position ", i,
                       " (must be non-decreasing in [0, ", total, "))"));
    }
  }
  if (indices.empty()) return absl::InvalidArgumentError("frame sampler returned no frames");
  return absl::OkStatus();
}

// A private temporary file, removed on destruction.
class TempFile {
 public:
  static absl::StatusOr<TempFile> Create(std::string_view bytes) {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
    if (ec) dir = "/tmp";
    std::string tmpl = (dir / "qwen_video_XXXXXX").string();
    const int fd = mkstemp(tmpl.data());
    if (fd < 0)
      return absl::InternalError(absl::StrCat("cannot create a temporary file in ", dir.string()));
    TempFile f(tmpl);
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
      if (n <= 0) {
        close(fd);
        return absl::InternalError(absl::StrCat("cannot write temporary file ", tmpl));
      }
      done += static_cast<size_t>(n);
    }
    if (close(fd) != 0)
      return absl::InternalError(absl::StrCat("cannot write temporary file ", tmpl));
    return f;
  }
  TempFile(TempFile&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove(path_, ec);
    }
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempFile(std::filesystem::path p) : path_(std::move(p)) {}
  std::filesystem::path path_;
};

}  // namespace

absl::StatusOr<SampledVideo> DecodeVideoFile(const std::filesystem::path& path,
                                             const FrameSampler& sampler,
                                             const VideoDecodeOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(
        absl::StrCat("video file ", path.string(), " does not exist or is not a file"));
  }
  SampledVideo out;
  {
    cv::VideoCapture cap;
    QWEN_RETURN_IF_ERROR(Open(path, &cap));
    double fps = 0, count = 0;
    try {
      fps = cap.get(cv::CAP_PROP_FPS);
      count = cap.get(cv::CAP_PROP_FRAME_COUNT);
      out.metadata.width = static_cast<int64_t>(cap.get(cv::CAP_PROP_FRAME_WIDTH));
      out.metadata.height = static_cast<int64_t>(cap.get(cv::CAP_PROP_FRAME_HEIGHT));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read video properties of ", path.string(), ": ", e.what()));
    }
    if (std::isfinite(fps) && fps > 0 && fps < 1e6) out.metadata.fps = fps;
    // Refuse oversized frames before decoding any (the per-frame check below stays authoritative).
    if (out.metadata.width * out.metadata.height > options.max_frame_pixels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "video ", path.string(), ": frames of ", out.metadata.width, "x", out.metadata.height,
          " exceed the limit of ", options.max_frame_pixels, " pixels"));
    }
    if (!options.always_count_frames && std::isfinite(count) && count >= 1 &&
        count <= static_cast<double>(options.max_total_frames)) {
      out.metadata.total_frames = std::llround(count);
    }
  }
  if (out.metadata.total_frames == 0) {
    QWEN_ASSIGN_OR_RETURN(out.metadata.total_frames, CountFrames(path, options));
    out.metadata.counted = true;
  }
  if (out.metadata.total_frames == 0) {
    return absl::InvalidArgumentError(absl::StrCat("video ", path.string(), " contains no frames"));
  }
  for (int pass = 0; pass < 2; ++pass) {
    QWEN_ASSIGN_OR_RETURN(out.frame_indices, sampler(out.metadata.total_frames, out.metadata.fps));
    QWEN_RETURN_IF_ERROR(CheckIndices(out.frame_indices, out.metadata.total_frames));
    bool complete = false;
    int64_t seen = 0;
    QWEN_ASSIGN_OR_RETURN(out.frames,
                          ReadFrames(path, out.frame_indices, options, &complete, &seen));
    if (complete) {
      out.metadata.width = out.frames[0].width;
      out.metadata.height = out.frames[0].height;
      return out;
    }
    // The container over-reported its frame count: resample with the true count.
    if (seen == 0)
      return absl::InvalidArgumentError(
          absl::StrCat("video ", path.string(), " contains no frames"));
    out.metadata.total_frames = seen;
    out.metadata.counted = true;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("video ", path.string(), ": frame count changed between reads"));
}

absl::StatusOr<SampledVideo> DecodeVideoBytes(std::string_view bytes, const FrameSampler& sampler,
                                              const VideoDecodeOptions& options) {
  if (bytes.empty()) return absl::InvalidArgumentError("empty video data (0 bytes)");
  if (static_cast<int64_t>(bytes.size()) > options.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "video data is ", bytes.size(), " bytes, over the limit of ", options.max_bytes, " bytes"));
  }
  QWEN_ASSIGN_OR_RETURN(TempFile tmp, TempFile::Create(bytes));
  absl::StatusOr<SampledVideo> r = DecodeVideoFile(tmp.path(), sampler, options);
  if (!r.ok()) {
    // The temporary name means nothing to the caller.
    std::string msg(r.status().message());
    const std::string name = tmp.path().string();
    for (size_t p = msg.find(name); p != std::string::npos; p = msg.find(name))
      msg.replace(p, name.size(), "<video data>");
    return absl::Status(r.status().code(), msg);
  }
  return r;
}

absl::StatusOr<SampledVideo> DecodeAllVideoFrames(const std::filesystem::path& path,
                                                  const VideoDecodeOptions& options) {
  VideoDecodeOptions counted = options;
  counted.always_count_frames = true;  // exact whatever the container reports
  return DecodeVideoFile(
      path,
      [](int64_t total, std::optional<double>) -> absl::StatusOr<std::vector<int64_t>> {
        std::vector<int64_t> all(total);
        for (int64_t i = 0; i < total; ++i) all[i] = i;
        return all;
      },
      counted);
}

}  // namespace qwen::vision

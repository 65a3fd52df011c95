#include "vision_service/preprocess/smart_resize.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace qwen::vision {
namespace {

// Largest side and frame count accepted: keeps frames * height * width below 2^53 so the int64 ->
// double conversions are exact (Python computes these products on exact integers).
constexpr int64_t kMaxSide = int64_t{1} << 19;
constexpr int64_t kMaxFrames = int64_t{1} << 14;

absl::Status CheckSizes(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                        int64_t max_pixels) {
  if (height <= 0 || width <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("image size ", width, "x", height, " (width x height) must be positive"));
  }
  if (height > kMaxSide || width > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image size ", width, "x", height, " exceeds the supported maximum side of ", kMaxSide));
  }
  if (factor <= 0 || min_pixels <= 0 || max_pixels < min_pixels) {
    return absl::InvalidArgumentError(absl::StrCat("smart_resize: bad factor ", factor,
                                                   " or pixel bounds [", min_pixels, ", ",
                                                   max_pixels, "]"));
  }
  return absl::OkStatus();
}

absl::Status CheckAspect(int64_t height, int64_t width) {
  const double ratio =
      static_cast<double>(std::max(height, width)) / static_cast<double>(std::min(height, width));
  if (ratio > 200) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "absolute aspect ratio must be at most 200, got %.6g (image %dx%d, width x height)", ratio,
        width, height));
  }
  return absl::OkStatus();
}

// The shared tail of both smart_resize variants. `budget_frames` multiplies the pixel counts:
// 1 for images; for videos t_bar in the comparisons but n (not t_bar) inside beta.
ResizedSize Bound(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                  int64_t max_pixels, int64_t compare_frames, int64_t beta_frames) {
  const double f = static_cast<double>(factor);
  int64_t h_bar = PyRound(static_cast<double>(height) / f) * factor;
  int64_t w_bar = PyRound(static_cast<double>(width) / f) * factor;
  const double pixels = static_cast<double>(beta_frames * height * width);
  if (compare_frames * h_bar * w_bar > max_pixels) {
    const double beta = std::sqrt(pixels / static_cast<double>(max_pixels));
    h_bar = std::max(
        factor, static_cast<int64_t>(std::floor(static_cast<double>(height) / beta / f)) * factor);
    w_bar = std::max(
        factor, static_cast<int64_t>(std::floor(static_cast<double>(width) / beta / f)) * factor);
  } else if (compare_frames * h_bar * w_bar < min_pixels) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / pixels);
    h_bar = static_cast<int64_t>(std::ceil(static_cast<double>(height) * beta / f)) * factor;
    w_bar = static_cast<int64_t>(std::ceil(static_cast<double>(width) * beta / f)) * factor;
  }
  return ResizedSize{h_bar, w_bar};
}

}  // namespace

int64_t PyRound(double x) {
  // Explicit ties-to-even (independent of the floating-point rounding mode); x - floor(x) is exact.
  double r = std::floor(x);
  const double diff = x - r;
  if (diff > 0.5 || (diff == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
  return static_cast<int64_t>(r);
}

absl::StatusOr<ResizedSize> SmartResizeImage(int64_t height, int64_t width, int64_t factor,
                                             int64_t min_pixels, int64_t max_pixels) {
  if (absl::Status s = CheckSizes(height, width, factor, min_pixels, max_pixels); !s.ok()) return s;
  if (absl::Status s = CheckAspect(height, width); !s.ok()) return s;
  return Bound(height, width, factor, min_pixels, max_pixels, 1, 1);
}

absl::StatusOr<ResizedSize> SmartResizeVideo(int64_t num_frames, int64_t height, int64_t width,
                                             int64_t temporal_factor, int64_t factor,
                                             int64_t min_pixels, int64_t max_pixels) {
  if (absl::Status s = CheckSizes(height, width, factor, min_pixels, max_pixels); !s.ok()) return s;
  if (temporal_factor <= 0 || num_frames < temporal_factor) {
    return absl::InvalidArgumentError(absl::StrCat(
        "video has ", num_frames,
        " sampled frames; at least temporal_patch_size = ", temporal_factor, " are needed"));
  }
  if (num_frames > kMaxFrames) {
    return absl::InvalidArgumentError(absl::StrCat(
        "video has ", num_frames, " sampled frames; at most ", kMaxFrames, " are supported"));
  }
  // TRAP (MODEL.md §6.3): frames smaller than the factor are first scaled up (int-truncated) so the
  // smaller side reaches `factor`; only the arithmetic uses the scaled size, the resize itself
  // starts from the original frames.
  if (height < factor || width < factor) {
    const double scale = std::max(static_cast<double>(factor) / static_cast<double>(height),
                                  static_cast<double>(factor) / static_cast<double>(width));
    height = static_cast<int64_t>(static_cast<double>(height) * scale);
    width = static_cast<int64_t>(static_cast<double>(width) * scale);
    if (height > kMaxSide || width > kMaxSide) {
      return absl::InvalidArgumentError(
          absl::StrCat("video frame size ", width, "x", height,
                       " (after scaling up to the factor) is too large"));
    }
  }
  if (absl::Status s = CheckAspect(height, width); !s.ok()) return s;
  // TRAP: t_bar = round(n / tf) * tf (half to even) decides the branch, but beta uses n itself.
  const int64_t t_bar =
      PyRound(static_cast<double>(num_frames) / static_cast<double>(temporal_factor)) *
      temporal_factor;
  return Bound(height, width, factor, min_pixels, max_pixels, t_bar, num_frames);
}

}  // namespace qwen::vision

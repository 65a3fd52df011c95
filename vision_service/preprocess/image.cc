#include "vision_service/preprocess/image.h"

#include "absl/strings/str_cat.h"

namespace qwen::vision {

absl::StatusOr<RgbImage> RgbImage::Create(int64_t height, int64_t width) {
  constexpr int64_t kMaxBytes = int64_t{1} << 31;
  if (height < 0 || width < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("image size ", width, "x", height, " is negative"));
  }
  if (width != 0 && height > kMaxBytes / 3 / width) {
    return absl::InvalidArgumentError(
        absl::StrCat("image of ", width, "x", height, " pixels exceeds the 2 GiB buffer limit"));
  }
  RgbImage image;
  image.height = height;
  image.width = width;
  image.pixels.assign(static_cast<size_t>(height * width * 3), 0);
  return image;
}

}  // namespace qwen::vision

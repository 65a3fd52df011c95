// RgbImage: an 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B (HWC). This is the
// "RGB uint8 [3, H0, W0]" of MODEL.md §6.2 step 1 (stored HWC; patchify reads it as CHW).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace qwen::vision {

struct RgbImage {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // height * width * 3 bytes

  // A zero-filled image; InvalidArgument for negative sizes or more than 2^31 bytes.
  static absl::StatusOr<RgbImage> Create(int64_t height, int64_t width);

  bool empty() const { return height == 0 || width == 0; }
  uint8_t* row(int64_t y) { return pixels.data() + y * width * 3; }
  const uint8_t* row(int64_t y) const { return pixels.data() + y * width * 3; }
  uint8_t at(int64_t y, int64_t x, int c) const { return pixels[(y * width + x) * 3 + c]; }
  uint8_t& at(int64_t y, int64_t x, int c) { return pixels[(y * width + x) * 3 + c]; }
  friend bool operator==(const RgbImage&, const RgbImage&) = default;
};

}  // namespace qwen::vision

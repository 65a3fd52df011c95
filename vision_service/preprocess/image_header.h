// Image container sniffing: the format from the magic bytes and the declared size from the header,
// read before any pixel is decoded so oversized images ("decompression bombs") are rejected
// cheaply.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace qwen::vision {

enum class ImageFormat { kUnknown, kJpeg, kPng, kGif, kBmp, kWebp };

// "JPEG", "PNG", "GIF", "BMP", "WebP" or "unknown".
const char* ImageFormatName(ImageFormat format);

// From the magic bytes only.
ImageFormat DetectImageFormat(std::string_view bytes);

struct ImageHeader {
  ImageFormat format = ImageFormat::kUnknown;
  int64_t width = 0;  // as declared by the container (may be 0: callers reject that)
  int64_t height = 0;
  int png_bit_depth = 0;    // PNG only
  int png_color_type = -1;  // PNG only: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
  bool webp_animated = false;
};

// InvalidArgument for an unknown format (naming the first bytes) or a header too short to hold the
// size.
absl::StatusOr<ImageHeader> ProbeImageHeader(std::string_view bytes);

// Walks the JPEG marker segments and entropy-coded scans; InvalidArgument unless an end-of-image
// marker (FFD9) is reached. libjpeg itself pads a truncated file with grey and only warns, while
// PIL (HF's loader) refuses it ("image file is truncated"), so truncation is detected here.
absl::Status CheckJpegComplete(std::string_view bytes);

}  // namespace qwen::vision

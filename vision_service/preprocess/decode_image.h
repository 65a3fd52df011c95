// Image decoding to RGB uint8, matching HF's loader (transformers.image_utils.load_image:
// PIL.Image.open -> ImageOps.exif_transpose -> convert("RGB")), MODEL.md §6.2 step 1.
//
// Supported (by magic bytes, not file name):
//   JPEG  (baseline/progressive, gray or YCbCr; OpenCV/libjpeg) — truncated files are rejected;
//   PNG   (1-16 bit, gray, gray+alpha, RGB, RGBA, palette; OpenCV/libpng; first frame of APNG);
//   GIF   (first frame; own decoder, gif_decode.h — OpenCV 4.6 has no GIF reader);
//   BMP   (OpenCV);
//   WebP  (still lossy/lossless; OpenCV/libwebp) — animated WebP is rejected (OpenCV 4.6 cannot
//         decode it).
// Anything else (TIFF, JPEG 2000, ...) is rejected as an unrecognized format.
//
// Conversion to RGB (PIL convert("RGB") semantics):
//   * gray -> (g, g, g); palette -> palette colours;
//   * alpha is DROPPED, not composited (TRAP: HF's video path composites on white; images do not);
//   * 16-bit PNG: gray without alpha is PIL mode I;16, whose convert("RGB") CLIPS: min(v, 255)
//     (TRAP: a 16-bit grey PNG comes out mostly white, as in HF); 16-bit RGB, RGBA and gray+alpha
//     are read by PIL through the "*;16B" raw modes, which keep the HIGH byte: v >> 8.
//   * EXIF / XMP orientation 2..8 applied after decoding (exif.h); OpenCV's own EXIF rotation is
//     disabled (IMREAD_UNCHANGED).
// Known differences from PIL (not covered by HF parity): 16-bit (5-5-5/5-6-5) BMPs are expanded by
// OpenCV as v << 3 where PIL scales v * 255 / 31; CMYK/YCCK JPEGs use OpenCV's CMYK conversion.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"
#include "vision_service/preprocess/image.h"
#include "vision_service/preprocess/image_header.h"

namespace qwen::vision {

struct ImageDecodeOptions {
  int64_t max_bytes = int64_t{64} << 20;  // encoded size limit
  // Decoded pixel limit, checked on the header before decoding. Default: PIL's
  // DecompressionBombError threshold (2 * Image.MAX_IMAGE_PIXELS), where HF's loader fails too.
  int64_t max_pixels = 178956970;
  bool apply_exif_orientation = true;
};

struct DecodedImage {
  RgbImage image;  // after orientation
  ImageFormat format = ImageFormat::kUnknown;
  int orientation = 1;  // EXIF orientation applied (1 = none)
};

// Every failure is InvalidArgument (bad or unsupported data; message names the format and, where
// relevant, the sizes and limits) except Unimplemented for a decodable but unsupported pixel type.
absl::StatusOr<DecodedImage> DecodeImage(std::string_view bytes,
                                         const ImageDecodeOptions& options = {});

// Reads the file (NotFound if it cannot be opened; InvalidArgument above max_bytes) and decodes it.
absl::StatusOr<DecodedImage> DecodeImageFile(const std::filesystem::path& path,
                                             const ImageDecodeOptions& options = {});

}  // namespace qwen::vision

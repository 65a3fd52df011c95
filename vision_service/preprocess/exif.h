// EXIF orientation, applied the way HF's image loader does (transformers.image_utils.load_image:
// PIL.ImageOps.exif_transpose, then convert("RGB")).
//
// Where PIL finds the orientation (Image.getexif()):
//   * JPEG: the first APP1 segment starting "Exif\0\0"; PNG: the eXIf chunk; WebP: the EXIF chunk
//     (each a TIFF structure, optionally prefixed "Exif\0\0"); tag 0x0112 of IFD0, an integer type
//     with count 1;
//   * when IFD0 has no orientation tag, XMP `tiff:Orientation="N"` / `<tiff:Orientation>N<` (JPEG
//     APP1 "http://ns.adobe.com/xap/1.0/", PNG iTXt/tEXt "XML:com.adobe.xmp", WebP "XMP " chunk).
// Values other than 2..8 leave the image as is; a malformed EXIF block is ignored (orientation 1).
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "vision_service/preprocess/image.h"
#include "vision_service/preprocess/image_header.h"

namespace qwen::vision {

// Orientation tag of a TIFF/EXIF block (with or without the "Exif\0\0" prefix): nullopt when the
// block has no orientation tag in IFD0 (the caller then falls back to XMP, then to 1); the raw
// value when present (possibly out of 1..8; -1 for a non-integer or multi-valued tag).
std::optional<int> ParseExifOrientation(std::string_view exif);

// The orientation PIL's exif_transpose would apply to this encoded image: 1..8 (1 = none).
int ReadImageOrientation(std::string_view bytes, ImageFormat format);

// PIL's transposes for orientations 2..8: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM,
// 5 TRANSPOSE, 6 ROTATE_270 (90° clockwise), 7 TRANSVERSE, 8 ROTATE_90 (90° counter-clockwise).
// Orientations 5-8 swap width and height. Anything else returns the image unchanged.
RgbImage ApplyExifOrientation(const RgbImage& image, int orientation);

}  // namespace qwen::vision

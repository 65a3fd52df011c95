#include "vision_service/preprocess/decode_image.h"

#include <exception>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "vision_service/preprocess/exif.h"
#include "vision_service/preprocess/gif_decode.h"

namespace qwen::vision {
namespace {

// cv::imdecode, with OpenCV's exceptions converted at this boundary.
absl::StatusOr<cv::Mat> OpenCvDecode(std::string_view bytes, ImageFormat format) {
  cv::Mat decoded;
  try {
    const cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8UC1,
                      const_cast<char*>(bytes.data()));  // read-only use
    // IMREAD_UNCHANGED keeps 16-bit depth and alpha, and (being exactly -1) disables OpenCV's own
    // EXIF rotation: orientation is applied afterwards with PIL's semantics.
    decoded = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("could not decode ", ImageFormatName(format), " data: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("could not decode ", ImageFormatName(format), " data: ", e.what()));
  }
  if (decoded.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("could not decode ", ImageFormatName(format),
                                                   " data (", bytes.size(),
                                                   " bytes): corrupt or truncated"));
  }
  return decoded;
}

// OpenCV's BGR(A)/gray 8/16-bit matrix -> RGB uint8 with PIL convert("RGB") semantics.
absl::StatusOr<RgbImage> ToRgb(const cv::Mat& m, const ImageHeader& header) {
  const int channels = m.channels();
  if (m.dims != 2 || (channels != 1 && channels != 3 && channels != 4)) {
    return absl::UnimplementedError(absl::StrCat("decoded ", ImageFormatName(header.format),
                                                 " has ", channels,
                                                 " channels; only 1, 3 or 4 are supported"));
  }
  const int depth = m.depth();
  if (depth != CV_8U && depth != CV_16U) {
    return absl::UnimplementedError(absl::StrCat("decoded ", ImageFormatName(header.format),
                                                 " has an unsupported sample type (OpenCV depth ",
                                                 depth, ")"));
  }
  // TRAP: PIL clips 16-bit grey (mode I;16) but takes the high byte of every other 16-bit layout.
  const bool clip16 =
      depth == CV_16U && header.format == ImageFormat::kPng && header.png_color_type == 0;
  QWEN_ASSIGN_OR_RETURN(RgbImage out, RgbImage::Create(m.rows, m.cols));
  auto to8 = [&](uint32_t v) -> uint8_t {
    if (depth == CV_8U) return static_cast<uint8_t>(v);
    return clip16 ? static_cast<uint8_t>(v > 255 ? 255 : v) : static_cast<uint8_t>(v >> 8);
  };
  for (int y = 0; y < m.rows; ++y) {
    uint8_t* dst = out.row(y);
    for (int x = 0; x < m.cols; ++x) {
      uint32_t s[4];
      for (int c = 0; c < channels; ++c) {
        s[c] = depth == CV_8U ? m.ptr<uint8_t>(y)[x * channels + c]
                              : m.ptr<uint16_t>(y)[x * channels + c];
      }
      if (channels == 1 || clip16) {  // grey (a grey PNG with tRNS may come back as BGRA: B = grey)
        dst[x * 3 + 0] = dst[x * 3 + 1] = dst[x * 3 + 2] = to8(s[0]);
      } else {  // BGR or BGRA: alpha dropped
        dst[x * 3 + 0] = to8(s[2]);
        dst[x * 3 + 1] = to8(s[1]);
        dst[x * 3 + 2] = to8(s[0]);
      }
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<DecodedImage> DecodeImage(std::string_view bytes,
                                         const ImageDecodeOptions& options) {
  if (bytes.empty()) return absl::InvalidArgumentError("empty image data (0 bytes)");
  if (static_cast<int64_t>(bytes.size()) > options.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image data is ", bytes.size(), " bytes, over the limit of ", options.max_bytes, " bytes"));
  }
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError("image data over 2 GiB is not supported");
  }
  QWEN_ASSIGN_OR_RETURN(ImageHeader header, ProbeImageHeader(bytes));
  const char* fmt = ImageFormatName(header.format);
  if (header.width <= 0 || header.height <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(fmt, " image has zero size (", header.width, "x",
                                                   header.height, ", width x height)"));
  }
  if (header.width * header.height > options.max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat(
        fmt, " image of ", header.width, "x", header.height, " = ", header.width * header.height,
        " pixels exceeds the limit of ", options.max_pixels, " pixels"));
  }
  if (header.webp_animated) {
    return absl::InvalidArgumentError(
        "animated WebP is not supported (OpenCV 4.6 cannot decode it)");
  }
  DecodedImage result;
  result.format = header.format;
  if (header.format == ImageFormat::kGif) {
    QWEN_ASSIGN_OR_RETURN(result.image, DecodeGifFirstFrame(bytes, options.max_pixels));
  } else {
    if (header.format == ImageFormat::kJpeg) QWEN_RETURN_IF_ERROR(CheckJpegComplete(bytes));
    QWEN_ASSIGN_OR_RETURN(cv::Mat decoded, OpenCvDecode(bytes, header.format));
    if (decoded.cols != header.width || decoded.rows != header.height) {
      return absl::InvalidArgumentError(absl::StrCat(fmt, " header declares ", header.width, "x",
                                                     header.height, " but ", decoded.cols, "x",
                                                     decoded.rows, " was decoded"));
    }
    QWEN_ASSIGN_OR_RETURN(result.image, ToRgb(decoded, header));
  }
  if (options.apply_exif_orientation) {
    result.orientation = ReadImageOrientation(bytes, header.format);
    if (result.orientation != 1)
      result.image = ApplyExifOrientation(result.image, result.orientation);
  }
  return result;
}

absl::StatusOr<DecodedImage> DecodeImageFile(const std::filesystem::path& path,
                                             const ImageDecodeOptions& options) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open image file ", path.string()));
  const std::streamoff size = in.tellg();
  if (size < 0) return absl::DataLossError(absl::StrCat("cannot read image file ", path.string()));
  if (size > options.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("image file ", path.string(), " is ", size,
                                                   " bytes, over the limit of ", options.max_bytes,
                                                   " bytes"));
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  if (!in) return absl::DataLossError(absl::StrCat("error reading image file ", path.string()));
  absl::StatusOr<DecodedImage> r = DecodeImage(bytes, options);
  if (!r.ok())
    return absl::Status(r.status().code(), absl::StrCat(path.string(), ": ", r.status().message()));
  return r;
}

}  // namespace qwen::vision

#include "vision_service/preprocess/image_header.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace qwen::vision {
namespace {

inline uint32_t U8(std::string_view b, size_t i) { return static_cast<unsigned char>(b[i]); }
inline uint32_t Be16(std::string_view b, size_t i) { return (U8(b, i) << 8) | U8(b, i + 1); }
inline uint32_t Le16(std::string_view b, size_t i) { return U8(b, i) | (U8(b, i + 1) << 8); }
inline uint32_t Be32(std::string_view b, size_t i) { return (Be16(b, i) << 16) | Be16(b, i + 2); }
inline uint32_t Le32(std::string_view b, size_t i) { return Le16(b, i) | (Le16(b, i + 2) << 16); }
inline uint32_t Le24(std::string_view b, size_t i) { return Le16(b, i) | (U8(b, i + 2) << 16); }

absl::Status TooShort(ImageFormat f, size_t size) {
  return absl::InvalidArgumentError(absl::StrCat(ImageFormatName(f), " data of ", size,
                                                 " bytes is too short to hold the image header"));
}

std::string FirstBytesHex(std::string_view bytes) {
  std::string s;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i)
    absl::StrAppendFormat(&s, "%s%02x", i ? " " : "", U8(bytes, i));
  return s;
}

bool IsSof(uint32_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// Walks JPEG segments from the SOI. Fills width/height from the first SOF; sets *eoi when an EOI
// marker is reached. Stops early (OK) once `stop_at_sof` and a SOF was seen.
absl::Status WalkJpeg(std::string_view b, bool stop_at_sof, int64_t* width, int64_t* height,
                      bool* eoi) {
  size_t pos = 2;
  bool have_sof = false;
  *eoi = false;
  while (true) {
    // Markers are 0xFF followed by a non-0xFF byte; extra 0xFF are fill bytes.
    if (pos >= b.size()) break;
    if (U8(b, pos) != 0xFF) {  // junk between segments: skipped, as libjpeg and PIL do
      ++pos;
      continue;
    }
    while (pos < b.size() && U8(b, pos) == 0xFF) ++pos;
    if (pos >= b.size()) break;
    const uint32_t marker = U8(b, pos++);
    if (marker == 0xD9) {
      *eoi = true;
      break;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
      continue;  // no payload
    if (pos + 2 > b.size()) break;
    const uint32_t len = Be16(b, pos);
    if (len < 2)
      return absl::InvalidArgumentError(
          absl::StrCat("JPEG: segment length ", len, " at byte ", pos));
    if (pos + len > b.size()) break;
    if (IsSof(marker) && !have_sof) {
      if (len < 7) return absl::InvalidArgumentError("JPEG: SOF segment too short");
      *height = Be16(b, pos + 3);
      *width = Be16(b, pos + 5);
      have_sof = true;
      if (stop_at_sof) return absl::OkStatus();
    }
    pos += len;
    if (marker == 0xDA) {
      // Entropy-coded data runs to the next marker that is neither a stuffed 0xFF00 nor an RSTn.
      while (pos + 1 < b.size()) {
        if (U8(b, pos) == 0xFF) {
          const uint32_t next = U8(b, pos + 1);
          if (next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF) {
            pos += (next == 0xFF) ? 1 : 2;
            continue;
          }
          break;
        }
        ++pos;
      }
      if (pos + 1 >= b.size()) break;
    }
  }
  if (stop_at_sof && !have_sof) {
    return absl::InvalidArgumentError(
        "JPEG: no frame header (SOF) found before the end of the data");
  }
  return absl::OkStatus();
}

}  // namespace

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kGif:
      return "GIF";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

ImageFormat DetectImageFormat(std::string_view b) {
  if (b.size() >= 3 && U8(b, 0) == 0xFF && U8(b, 1) == 0xD8 && U8(b, 2) == 0xFF)
    return ImageFormat::kJpeg;
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8))
    return ImageFormat::kPng;
  if (b.size() >= 6 && (b.substr(0, 6) == "GIF87a" || b.substr(0, 6) == "GIF89a"))
    return ImageFormat::kGif;
  if (b.size() >= 2 && b.substr(0, 2) == "BM") return ImageFormat::kBmp;
  if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP")
    return ImageFormat::kWebp;
  return ImageFormat::kUnknown;
}

absl::StatusOr<ImageHeader> ProbeImageHeader(std::string_view b) {
  ImageHeader h;
  h.format = DetectImageFormat(b);
  switch (h.format) {
    case ImageFormat::kUnknown:
      return absl::InvalidArgumentError(absl::StrCat("unrecognized image format (", b.size(),
                                                     " bytes, first bytes: ", FirstBytesHex(b),
                                                     "); supported: JPEG, PNG, GIF, BMP, WebP"));
    case ImageFormat::kJpeg: {
      bool eoi = false;
      if (absl::Status s = WalkJpeg(b, /*stop_at_sof=*/true, &h.width, &h.height, &eoi); !s.ok())
        return s;
      break;
    }
    case ImageFormat::kPng:
      if (b.size() < 29 || b.substr(12, 4) != "IHDR") {
        return b.size() < 29 ? TooShort(h.format, b.size())
                             : absl::InvalidArgumentError("PNG: first chunk is not IHDR");
      }
      h.width = Be32(b, 16);
      h.height = Be32(b, 20);
      h.png_bit_depth = U8(b, 24);
      h.png_color_type = U8(b, 25);
      break;
    case ImageFormat::kGif:
      if (b.size() < 10) return TooShort(h.format, b.size());
      h.width = Le16(b, 6);
      h.height = Le16(b, 8);
      break;
    case ImageFormat::kBmp: {
      if (b.size() < 26) return TooShort(h.format, b.size());
      const uint32_t dib = Le32(b, 14);
      if (dib == 12) {  // OS/2 BITMAPCOREHEADER
        h.width = Le16(b, 18);
        h.height = Le16(b, 20);
      } else {
        h.width = std::abs(static_cast<int64_t>(static_cast<int32_t>(Le32(b, 18))));
        h.height =
            std::abs(static_cast<int64_t>(static_cast<int32_t>(Le32(b, 22))));  // < 0: top-down
      }
      break;
    }
    case ImageFormat::kWebp: {
      if (b.size() < 30) return TooShort(h.format, b.size());
      const std::string_view chunk = b.substr(12, 4);
      if (chunk == "VP8X") {
        h.webp_animated = (U8(b, 20) & 0x02) != 0;
        h.width = Le24(b, 24) + 1;
        h.height = Le24(b, 27) + 1;
      } else if (chunk == "VP8L") {
        if (U8(b, 20) != 0x2F) return absl::InvalidArgumentError("WebP: bad VP8L signature");
        const uint32_t bits = Le32(b, 21);
        h.width = (bits & 0x3FFF) + 1;
        h.height = ((bits >> 14) & 0x3FFF) + 1;
      } else if (chunk == "VP8 ") {
        if (U8(b, 23) != 0x9D || U8(b, 24) != 0x01 || U8(b, 25) != 0x2A) {
          return absl::InvalidArgumentError("WebP: bad VP8 start code");
        }
        h.width = Le16(b, 26) & 0x3FFF;
        h.height = Le16(b, 28) & 0x3FFF;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("WebP: unknown first chunk '", std::string(chunk), "'"));
      }
      break;
    }
  }
  return h;
}

absl::Status CheckJpegComplete(std::string_view b) {
  int64_t w = 0, h = 0;
  bool eoi = false;
  if (absl::Status s = WalkJpeg(b, /*stop_at_sof=*/false, &w, &h, &eoi); !s.ok()) return s;
  if (!eoi) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncated JPEG: no end-of-image marker in ", b.size(), " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace qwen::vision

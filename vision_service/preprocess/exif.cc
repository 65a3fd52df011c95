#include "vision_service/preprocess/exif.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace qwen::vision {
namespace {

inline uint32_t U8(std::string_view b, size_t i) { return static_cast<unsigned char>(b[i]); }
inline uint32_t Be16(std::string_view b, size_t i) { return (U8(b, i) << 8) | U8(b, i + 1); }
inline uint32_t Be32(std::string_view b, size_t i) { return (Be16(b, i) << 16) | Be16(b, i + 2); }
inline uint32_t Le16(std::string_view b, size_t i) { return U8(b, i) | (U8(b, i + 1) << 8); }
inline uint32_t Le32(std::string_view b, size_t i) { return Le16(b, i) | (Le16(b, i + 2) << 16); }

constexpr std::string_view kExifPrefix("Exif\0\0", 6);
constexpr std::string_view kXmpJpegPrefix("http://ns.adobe.com/xap/1.0/\0", 29);

// PIL's XMP fallback: re.search(r'tiff:Orientation(="|>)([0-9])', xmp).
int XmpOrientation(std::string_view xmp) {
  constexpr std::string_view kKey = "tiff:Orientation";
  for (size_t pos = xmp.find(kKey); pos != std::string_view::npos; pos = xmp.find(kKey, pos + 1)) {
    size_t i = pos + kKey.size();
    if (i + 1 < xmp.size() && xmp[i] == '=' && xmp[i + 1] == '"') {
      i += 2;
    } else if (i < xmp.size() && xmp[i] == '>') {
      i += 1;
    } else {
      continue;
    }
    if (i < xmp.size() && xmp[i] >= '0' && xmp[i] <= '9') return xmp[i] - '0';
  }
  return 0;
}

struct Blobs {
  std::string_view exif;
  std::string_view xmp;
};

Blobs JpegBlobs(std::string_view b) {
  Blobs out;
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (U8(b, pos) != 0xFF) {
      ++pos;
      continue;
    }
    const uint32_t marker = U8(b, pos + 1);
    if (marker == 0xFF) {
      ++pos;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      pos += 2;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) break;  // metadata precedes the first scan
    const uint32_t len = Be16(b, pos + 2);
    if (len < 2 || pos + 2 + len > b.size()) break;
    const std::string_view payload = b.substr(pos + 4, len - 2);
    if (marker == 0xE1) {
      if (out.exif.empty() && payload.substr(0, 6) == kExifPrefix)
        out.exif = payload;  // first one wins
      if (out.xmp.empty() && payload.substr(0, kXmpJpegPrefix.size()) == kXmpJpegPrefix) {
        out.xmp = payload.substr(kXmpJpegPrefix.size());
      }
    }
    pos += 2 + len;
  }
  return out;
}

Blobs PngBlobs(std::string_view b) {
  Blobs out;
  size_t pos = 8;
  while (pos + 12 <= b.size()) {
    const uint32_t len = Be32(b, pos);
    if (len > b.size() - pos - 12) break;
    const std::string_view type = b.substr(pos + 4, 4);
    const std::string_view data = b.substr(pos + 8, len);
    if (type == "eXIf" && out.exif.empty()) out.exif = data;
    if ((type == "iTXt" || type == "tEXt") && out.xmp.empty() &&
        data.substr(0, 18) == std::string_view("XML:com.adobe.xmp\0", 18)) {
      out.xmp =
          data.substr(18);  // iTXt: compression flag/method, language, keyword follow (searched)
    }
    if (type == "IEND") break;
    pos += 12 + len;
  }
  return out;
}

Blobs WebpBlobs(std::string_view b) {
  Blobs out;
  size_t pos = 12;
  while (pos + 8 <= b.size()) {
    const uint32_t len = Le32(b, pos + 4);
    if (len > b.size() - pos - 8) break;
    const std::string_view type = b.substr(pos, 4);
    const std::string_view data = b.substr(pos + 8, len);
    if (type == "EXIF" && out.exif.empty()) out.exif = data;
    if (type == "XMP " && out.xmp.empty()) out.xmp = data;
    pos += 8 + len + (len & 1);  // chunks are padded to even sizes
  }
  return out;
}

}  // namespace

std::optional<int> ParseExifOrientation(std::string_view exif) {
  if (exif.substr(0, 6) == kExifPrefix) exif.remove_prefix(6);
  if (exif.size() < 8) return std::nullopt;
  bool le;
  if (exif.substr(0, 4) == std::string_view("II*\0", 4)) {
    le = true;
  } else if (exif.substr(0, 4) == std::string_view("MM\0*", 4)) {
    le = false;
  } else {
    return std::nullopt;
  }
  auto u16 = [&](size_t i) { return le ? Le16(exif, i) : Be16(exif, i); };
  auto u32 = [&](size_t i) { return le ? Le32(exif, i) : Be32(exif, i); };
  const uint64_t ifd = u32(4);
  if (ifd + 2 > exif.size()) return std::nullopt;
  const uint32_t count = u16(ifd);
  for (uint32_t k = 0; k < count; ++k) {
    const uint64_t e = ifd + 2 + uint64_t{12} * k;
    if (e + 12 > exif.size()) return std::nullopt;
    if (u16(e) != 0x0112) continue;
    const uint32_t type = u16(e + 2);
    if (u32(e + 4) != 1) return -1;  // PIL reads a tuple for count > 1: present, no transpose
    switch (type) {
      case 1:
        return static_cast<int>(U8(exif, e + 8));  // BYTE
      case 6:
        return static_cast<int>(static_cast<int8_t>(U8(exif, e + 8)));  // SBYTE
      case 3:
        return static_cast<int>(u16(e + 8));  // SHORT
      case 8:
        return static_cast<int>(static_cast<int16_t>(u16(e + 8)));  // SSHORT
      case 4:
        return static_cast<int>(std::min<uint32_t>(u32(e + 8), 1u << 30));  // LONG
      case 9:
        return static_cast<int>(static_cast<int32_t>(u32(e + 8)));  // SLONG
      default:
        return -1;  // not an integer: present but unusable
    }
  }
  return std::nullopt;
}

int ReadImageOrientation(std::string_view bytes, ImageFormat format) {
  Blobs blobs;
  switch (format) {
    case ImageFormat::kJpeg:
      blobs = JpegBlobs(bytes);
      break;
    case ImageFormat::kPng:
      blobs = PngBlobs(bytes);
      break;
    case ImageFormat::kWebp:
      blobs = WebpBlobs(bytes);
      break;
    default:
      return 1;
  }
  // XMP is consulted only when EXIF has no orientation tag at all (PIL's getexif()).
  std::optional<int> exif = blobs.exif.empty() ? std::nullopt : ParseExifOrientation(blobs.exif);
  const int orientation = exif ? *exif : (blobs.xmp.empty() ? 1 : XmpOrientation(blobs.xmp));
  return (orientation >= 1 && orientation <= 8) ? orientation : 1;
}

RgbImage ApplyExifOrientation(const RgbImage& in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int64_t h = in.height, w = in.width;
  const bool swap = orientation >= 5;
  RgbImage out;
  out.height = swap ? w : h;
  out.width = swap ? h : w;
  out.pixels.resize(in.pixels.size());
  for (int64_t y = 0; y < out.height; ++y) {
    for (int64_t x = 0; x < out.width; ++x) {
      int64_t sy = 0, sx = 0;
      switch (orientation) {
        case 2:
          sy = y;
          sx = w - 1 - x;
          break;  // FLIP_LEFT_RIGHT
        case 3:
          sy = h - 1 - y;
          sx = w - 1 - x;
          break;  // ROTATE_180
        case 4:
          sy = h - 1 - y;
          sx = x;
          break;  // FLIP_TOP_BOTTOM
        case 5:
          sy = x;
          sx = y;
          break;  // TRANSPOSE
        case 6:
          sy = h - 1 - x;
          sx = y;
          break;  // ROTATE_270: 90° clockwise
        case 7:
          sy = h - 1 - x;
          sx = w - 1 - y;
          break;  // TRANSVERSE
        case 8:
          sy = x;
          sx = w - 1 - y;
          break;  // ROTATE_90: 90° counter-clockwise
      }
      for (int c = 0; c < 3; ++c) out.at(y, x, c) = in.at(sy, sx, c);
    }
  }
  return out;
}

}  // namespace qwen::vision

#include "vision_service/preprocess/gif_decode.h"

#include <array>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace qwen::vision {
namespace {

inline uint32_t U8(std::string_view b, size_t i) { return static_cast<unsigned char>(b[i]); }
inline uint32_t Le16(std::string_view b, size_t i) { return U8(b, i) | (U8(b, i + 1) << 8); }

absl::Status Truncated(std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("truncated GIF: data ends inside the ", std::string(what)));
}

// Reads a chain of data sub-blocks starting at *pos (length byte, payload, ..., 0 terminator).
absl::Status ReadSubBlocks(std::string_view b, size_t* pos, std::string* out,
                           std::string_view what) {
  while (true) {
    if (*pos >= b.size()) return Truncated(what);
    const size_t n = U8(b, (*pos)++);
    if (n == 0) return absl::OkStatus();
    if (*pos + n > b.size()) return Truncated(what);
    if (out != nullptr) out->append(b.data() + *pos, n);
    *pos += n;
  }
}

// LZW-decodes `data` (GIF variant: LSB-first codes, deferred clear) into at most `limit` indices.
// Returns the indices decoded (fewer than `limit` after an early end code); `ended` tells whether
// an end-of-information code (or the limit) was reached before the data ran out.
absl::StatusOr<std::vector<uint8_t>> LzwDecode(const std::string& data, int min_code_size,
                                               size_t limit, bool* ended) {
  constexpr int kMaxCodes = 4096;
  const int clear = 1 << min_code_size, eoi = clear + 1;
  std::array<uint16_t, kMaxCodes> prefix;
  std::array<uint8_t, kMaxCodes> suffix;
  for (int i = 0; i < clear; ++i) {
    prefix[i] = 0xFFFF;
    suffix[i] = static_cast<uint8_t>(i);
  }
  std::vector<uint8_t> out;
  out.reserve(limit);
  std::vector<uint8_t> stack(kMaxCodes);
  int code_size = min_code_size + 1;
  int next = eoi + 1;
  int prev = -1;
  uint32_t bit_buf = 0;
  int bit_count = 0;
  size_t byte_pos = 0;
  *ended = false;
  while (out.size() < limit) {
    while (bit_count < code_size && byte_pos < data.size()) {
      bit_buf |= static_cast<uint32_t>(static_cast<unsigned char>(data[byte_pos++])) << bit_count;
      bit_count += 8;
    }
    if (bit_count < code_size) return out;  // data exhausted without an end code
    const int code = static_cast<int>(bit_buf & ((1u << code_size) - 1));
    bit_buf >>= code_size;
    bit_count -= code_size;
    if (code == clear) {
      code_size = min_code_size + 1;
      next = eoi + 1;
      prev = -1;
      continue;
    }
    if (code == eoi) {
      *ended = true;
      return out;
    }
    if (code > next || (code == next && prev < 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("GIF: invalid LZW code ", code, " (next free code ", next, ")"));
    }
    // Emit the string for `code` (for code == next: prev's string + its first byte).
    int cur = (code == next) ? prev : code;
    int n = 0;
    for (int c = cur; c != 0xFFFF; c = prefix[c]) stack[n++] = suffix[c];
    const uint8_t first = stack[n - 1];
    for (int k = n - 1; k >= 0 && out.size() < limit; --k) out.push_back(stack[k]);
    if (code == next && out.size() < limit) out.push_back(first);
    if (prev >= 0 && next < kMaxCodes) {
      prefix[next] = static_cast<uint16_t>(prev);
      suffix[next] = first;
      ++next;
      if (next == (1 << code_size) && code_size < 12) ++code_size;
    }
    prev = code;
  }
  *ended = true;
  return out;
}

}  // namespace

absl::StatusOr<RgbImage> DecodeGifFirstFrame(std::string_view b, int64_t max_pixels) {
  if (b.substr(0, 6) != "GIF87a" && b.substr(0, 6) != "GIF89a") {
    return absl::InvalidArgumentError("not a GIF file (missing GIF87a/GIF89a header)");
  }
  if (b.size() < 13) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncated GIF: ", b.size(), " bytes, shorter than the 13-byte header"));
  }
  const int64_t screen_w = Le16(b, 6), screen_h = Le16(b, 8);
  if (screen_w == 0 || screen_h == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("image has zero size (", screen_w, "x", screen_h, ")"));
  }
  if (screen_w * screen_h > max_pixels) {
    return absl::InvalidArgumentError(
        absl::StrCat("image of ", screen_w, "x", screen_h, " = ", screen_w * screen_h,
                     " pixels exceeds the limit of ", max_pixels, " pixels"));
  }
  const uint32_t flags = U8(b, 10);
  size_t pos = 13;
  std::string_view global_table;
  if (flags & 0x80) {
    const size_t n = size_t{3} << ((flags & 7) + 1);
    if (pos + n > b.size()) return Truncated("global colour table");
    global_table = b.substr(pos, n);
    pos += n;
  }
  int transparent = -1;  // colour index of the Graphic Control Extension, -1 = none
  while (true) {
    if (pos >= b.size()) return Truncated("block list (no image found)");
    const uint32_t block = U8(b, pos++);
    if (block == 0x3B) return absl::InvalidArgumentError("GIF contains no image");
    if (block == 0x21) {  // extension
      if (pos >= b.size()) return Truncated("extension");
      const uint32_t label = U8(b, pos++);
      if (label == 0xF9) {  // Graphic Control Extension: transparency applies to the next image
        std::string gce;
        QWEN_RETURN_IF_ERROR(ReadSubBlocks(b, &pos, &gce, "graphic control extension"));
        transparent = -1;
        if (gce.size() >= 4 && (static_cast<unsigned char>(gce[0]) & 1)) {
          transparent = static_cast<unsigned char>(gce[3]);
        }
      } else {
        QWEN_RETURN_IF_ERROR(ReadSubBlocks(b, &pos, nullptr, "extension"));
      }
      continue;
    }
    if (block != 0x2C) {
      return absl::InvalidArgumentError(
          absl::StrCat("GIF: unexpected block type 0x", absl::Hex(block), " at byte ", pos - 1));
    }
    // Image descriptor.
    if (pos + 9 > b.size()) return Truncated("image descriptor");
    const int64_t left = Le16(b, pos), top = Le16(b, pos + 2);
    const int64_t w = Le16(b, pos + 4), h = Le16(b, pos + 6);
    const uint32_t iflags = U8(b, pos + 8);
    pos += 9;
    std::string_view table = global_table;
    if (iflags & 0x80) {
      const size_t n = size_t{3} << ((iflags & 7) + 1);
      if (pos + n > b.size()) return Truncated("local colour table");
      table = b.substr(pos, n);
      pos += n;
    }
    const bool interlaced = (iflags & 0x40) != 0;
    if (pos >= b.size()) return Truncated("image data");
    const int min_code_size = static_cast<int>(U8(b, pos++));
    if (min_code_size < 1 || min_code_size > 11) {
      return absl::InvalidArgumentError(
          absl::StrCat("GIF: invalid LZW minimum code size ", min_code_size));
    }
    std::string data;
    QWEN_RETURN_IF_ERROR(ReadSubBlocks(b, &pos, &data, "image data"));
    bool ended = false;
    QWEN_ASSIGN_OR_RETURN(std::vector<uint8_t> indices,
                          LzwDecode(data, min_code_size, static_cast<size_t>(w * h), &ended));
    if (!ended) return Truncated("LZW stream (no end-of-information code)");

    // Index canvas, then the palette lookup of convert("RGB").
    std::vector<uint8_t> canvas(static_cast<size_t>(screen_w * screen_h),
                                static_cast<uint8_t>(transparent < 0 ? 0 : transparent));
    // Interlace passes: rows 0,8,16..; 4,12..; 2,6,10..; 1,3,5..
    std::vector<int64_t> row_order;
    row_order.reserve(h);
    if (interlaced) {
      for (int64_t y = 0; y < h; y += 8) row_order.push_back(y);
      for (int64_t y = 4; y < h; y += 8) row_order.push_back(y);
      for (int64_t y = 2; y < h; y += 4) row_order.push_back(y);
      for (int64_t y = 1; y < h; y += 2) row_order.push_back(y);
    } else {
      for (int64_t y = 0; y < h; ++y) row_order.push_back(y);
    }
    for (size_t k = 0; k < indices.size(); ++k) {
      const int64_t sy = top + row_order[k / w], sx = left + static_cast<int64_t>(k % w);
      if (sy < screen_h && sx < screen_w) canvas[sy * screen_w + sx] = indices[k];
    }
    QWEN_ASSIGN_OR_RETURN(RgbImage image, RgbImage::Create(screen_h, screen_w));
    const size_t table_entries = table.size() / 3;
    for (size_t i = 0; i < canvas.size(); ++i) {
      const uint32_t idx = canvas[i];
      for (int c = 0; c < 3; ++c) {
        image.pixels[i * 3 + c] = (idx < table_entries)
                                      ? static_cast<uint8_t>(U8(table, idx * 3 + c))
                                      : static_cast<uint8_t>(idx);
      }
    }
    return image;
  }
}

}  // namespace qwen::vision

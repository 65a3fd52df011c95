// Helpers shared by the vision pre-processing tests: synthetic images, encoders (OpenCV's, plus a
// minimal GIF writer), EXIF blocks and PNG chunk surgery.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "vision_service/preprocess/image.h"

namespace qwen::vision::testing_util {

inline std::string SourcePath(const std::string& rel) {
  return std::string(QWEN_SOURCE_DIR) + "/" + rel;
}

inline std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An RGB image with pixel (y, x, c) = f(y, x, c).
inline RgbImage MakeImage(int64_t h, int64_t w,
                          const std::function<uint8_t(int64_t, int64_t, int)>& f) {
  RgbImage img = RgbImage::Create(h, w).value();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img.at(y, x, c) = f(y, x, c);
  return img;
}

// A deterministic pseudo-random image (xorshift), optionally smooth.
inline RgbImage NoiseImage(int64_t h, int64_t w, uint32_t seed) {
  uint32_t s = seed * 2654435761u + 1;
  return MakeImage(h, w, [&](int64_t, int64_t, int) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return static_cast<uint8_t>(s >> 24);
  });
}

// RGB -> OpenCV BGR matrix.
inline cv::Mat ToBgrMat(const RgbImage& img) {
  cv::Mat m(static_cast<int>(img.height), static_cast<int>(img.width), CV_8UC3);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x)
      for (int c = 0; c < 3; ++c) m.at<cv::Vec3b>(y, x)[c] = img.at(y, x, 2 - c);
  return m;
}

inline std::string Encode(const std::string& ext, const cv::Mat& m,
                          const std::vector<int>& params = {}) {
  std::vector<uchar> buf;
  EXPECT_TRUE(cv::imencode(ext, m, buf, params)) << "imencode " << ext;
  return std::string(buf.begin(), buf.end());
}

inline uint32_t Crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char ch : data) {
    crc ^= ch;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

inline std::string Be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

// Inserts a chunk right after IHDR of a PNG.
inline std::string PngWithChunk(const std::string& png, const std::string& type,
                                const std::string& data) {
  const size_t after_ihdr = 8 + 8 + 13 + 4;
  std::string chunk =
      Be32(static_cast<uint32_t>(data.size())) + type + data + Be32(Crc32(type + data));
  return png.substr(0, after_ihdr) + chunk + png.substr(after_ihdr);
}

// A TIFF block (little or big endian) whose IFD0 holds one entry: tag, type, count 1, value.
inline std::string TiffWithTag(uint16_t tag, uint16_t type, uint32_t value,
                               bool little_endian = true) {
  std::string t;
  auto u16 = [&](uint16_t v) {
    if (little_endian) {
      t += static_cast<char>(v & 0xFF);
      t += static_cast<char>(v >> 8);
    } else {
      t += static_cast<char>(v >> 8);
      t += static_cast<char>(v & 0xFF);
    }
  };
  auto u32 = [&](uint32_t v) {
    if (little_endian) {
      u16(static_cast<uint16_t>(v & 0xFFFF));
      u16(static_cast<uint16_t>(v >> 16));
    } else {
      u16(static_cast<uint16_t>(v >> 16));
      u16(static_cast<uint16_t>(v & 0xFFFF));
    }
  };
  t += little_endian ? std::string("II") : std::string("MM");
  u16(42);
  u32(8);
  u16(1);  // one entry
  u16(tag);
  u16(type);
  u32(1);
  if (type == 3) {  // SHORT: left-justified in the 4-byte value field
    u16(static_cast<uint16_t>(value));
    u16(0);
  } else {
    u32(value);
  }
  u32(0);  // no next IFD
  return t;
}

inline std::string ExifOrientationBlock(int orientation, bool little_endian = true) {
  return std::string("Exif\0\0", 6) +
         TiffWithTag(0x0112, 3, static_cast<uint32_t>(orientation), little_endian);
}

// Inserts an APP1 segment (payload = `app1`) right after the SOI of a JPEG.
inline std::string JpegWithApp1(const std::string& jpeg, const std::string& app1) {
  const size_t len = app1.size() + 2;
  std::string seg = std::string("\xFF\xE1", 2) + static_cast<char>(len >> 8) +
                    static_cast<char>(len & 0xFF) + app1;
  return jpeg.substr(0, 2) + seg + jpeg.substr(2);
}

// Minimal GIF writer: one image of `indices` (w*h, values < 2^min_code_size) with `palette`
// (RGB triples, 2^k entries), LZW-coded without table growth (a clear code every few codes keeps
// the code width at min_code_size + 1), optionally interlaced, placed at (left, top) on a
// screen_w x screen_h canvas, with an optional transparent index. A second frame (all index 1)
// is appended when `second_frame`.
struct GifSpec {
  int screen_w = 0, screen_h = 0, left = 0, top = 0, w = 0, h = 0;
  std::vector<uint8_t> indices;
  std::vector<uint8_t> palette;  // 3 * 2^k bytes
  int transparent = -1;
  bool interlaced = false;
  bool local_table = false;
  bool second_frame = false;
};

inline std::string EncodeGif(const GifSpec& s) {
  auto le16 = [](int v) {
    return std::string{static_cast<char>(v & 0xFF), static_cast<char>((v >> 8) & 0xFF)};
  };
  int table_bits = 1;
  while ((3 << table_bits) < static_cast<int>(s.palette.size())) ++table_bits;
  const int mcs = std::max(2, table_bits);
  const std::string table(s.palette.begin(), s.palette.end());
  std::string g = "GIF89a" + le16(s.screen_w) + le16(s.screen_h);
  g += static_cast<char>(s.local_table ? 0x00 : (0x80 | (table_bits - 1)));
  g += '\0';
  g += '\0';
  if (!s.local_table) g += table;
  auto frame = [&](const std::vector<uint8_t>& idx, int transparent) {
    if (transparent >= 0) {
      g += std::string("\x21\xF9\x04\x01\x00\x00", 6);
      g += static_cast<char>(transparent);
      g += '\0';
    }
    g += '\x2C' + le16(s.left) + le16(s.top) + le16(s.w) + le16(s.h);
    g += static_cast<char>((s.local_table ? (0x80 | (table_bits - 1)) : 0) |
                           (s.interlaced ? 0x40 : 0));
    if (s.local_table) g += table;
    g += static_cast<char>(mcs);
    // Rows in file order.
    std::vector<int> rows;
    if (s.interlaced) {
      for (int y = 0; y < s.h; y += 8) rows.push_back(y);
      for (int y = 4; y < s.h; y += 8) rows.push_back(y);
      for (int y = 2; y < s.h; y += 4) rows.push_back(y);
      for (int y = 1; y < s.h; y += 2) rows.push_back(y);
    } else {
      for (int y = 0; y < s.h; ++y) rows.push_back(y);
    }
    const int clear = 1 << mcs, eoi = clear + 1, width = mcs + 1;
    std::vector<int> codes{clear};
    int since_clear = 0;
    for (int y : rows) {
      for (int x = 0; x < s.w; ++x) {
        codes.push_back(idx[y * s.w + x]);
        // Without a clear the decoder's table would reach 2^width entries and widen the codes.
        if (++since_clear == clear - 3) {
          codes.push_back(clear);
          since_clear = 0;
        }
      }
    }
    codes.push_back(eoi);
    std::string data;
    uint32_t buf = 0;
    int nbits = 0;
    for (int c : codes) {
      buf |= static_cast<uint32_t>(c) << nbits;
      nbits += width;
      while (nbits >= 8) {
        data += static_cast<char>(buf & 0xFF);
        buf >>= 8;
        nbits -= 8;
      }
    }
    if (nbits > 0) data += static_cast<char>(buf & 0xFF);
    for (size_t p = 0; p < data.size(); p += 255) {
      const size_t n = std::min<size_t>(255, data.size() - p);
      g += static_cast<char>(n);
      g += data.substr(p, n);
    }
    g += '\0';
  };
  frame(s.indices, s.transparent);
  if (s.second_frame) frame(std::vector<uint8_t>(s.indices.size(), 1), -1);
  g += '\x3B';
  return g;
}

}  // namespace qwen::vision::testing_util

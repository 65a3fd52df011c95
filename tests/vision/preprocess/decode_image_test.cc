#include "vision_service/preprocess/decode_image.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/vision/preprocess/test_util.h"
#include "vision_service/preprocess/exif.h"
#include "vision_service/preprocess/gif_decode.h"
#include "vision_service/preprocess/image_preprocessor.h"

namespace qwen::vision {
namespace {

using ::testing::HasSubstr;
using testing_util::Encode;
using testing_util::MakeImage;
using testing_util::NoiseImage;
using testing_util::ToBgrMat;

RgbImage Decoded(const std::string& bytes) {
  auto r = DecodeImage(bytes);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->image : RgbImage{};
}

void ExpectError(const std::string& bytes, const std::string& message,
                 const ImageDecodeOptions& opts = {}) {
  auto r = DecodeImage(bytes, opts);
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << message;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(message));
}

TEST(DecodeImageTest, LosslessFormatsRoundTrip) {
  const RgbImage img = NoiseImage(13, 21, 5);
  const cv::Mat bgr = ToBgrMat(img);
  EXPECT_EQ(Decoded(Encode(".png", bgr)), img);
  EXPECT_EQ(Decoded(Encode(".bmp", bgr)), img);
  EXPECT_EQ(Decoded(Encode(".webp", bgr, {cv::IMWRITE_WEBP_QUALITY, 101})),
            img);  // > 100: lossless
  auto r = DecodeImage(Encode(".png", bgr));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->format, ImageFormat::kPng);
  EXPECT_EQ(r->orientation, 1);
}

TEST(DecodeImageTest, JpegDecodes) {
  const RgbImage img = MakeImage(16, 24, [](int64_t y, int64_t x, int c) {
    return static_cast<uint8_t>(c == 0 ? 200 : c == 1 ? 8 * y : 6 * x);
  });
  auto r = DecodeImage(Encode(".jpg", ToBgrMat(img), {cv::IMWRITE_JPEG_QUALITY, 100}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->format, ImageFormat::kJpeg);
  ASSERT_EQ(r->image.height, 16);
  ASSERT_EQ(r->image.width, 24);
  for (size_t i = 0; i < img.pixels.size(); ++i)
    EXPECT_NEAR(r->image.pixels[i], img.pixels[i], 12) << i;
}

TEST(DecodeImageTest, GrayIsReplicated) {
  cv::Mat g(5, 7, CV_8UC1);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x) g.at<uint8_t>(y, x) = static_cast<uint8_t>(y * 40 + x);
  const RgbImage r = Decoded(Encode(".png", g));
  ASSERT_EQ(r.height, 5);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(r.at(y, x, c), y * 40 + x);
}

TEST(DecodeImageTest, AlphaIsDroppedNotComposited) {
  cv::Mat bgra(4, 6, CV_8UC4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x)
      bgra.at<cv::Vec4b>(y, x) = cv::Vec4b(10 * x, 20 * y, 77, (x * 50) % 256);
  const RgbImage r = Decoded(Encode(".png", bgra));
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) {
      EXPECT_EQ(r.at(y, x, 0), 77);  // even where alpha == 0: no white background
      EXPECT_EQ(r.at(y, x, 1), 20 * y);
      EXPECT_EQ(r.at(y, x, 2), 10 * x);
    }
  // WebP with alpha too (alpha >= 1: libwebp may rewrite the colour of fully transparent pixels).
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) bgra.at<cv::Vec4b>(y, x)[3] = static_cast<uint8_t>(1 + x * 50);
  const RgbImage w = Decoded(Encode(".webp", bgra, {cv::IMWRITE_WEBP_QUALITY, 101}));
  EXPECT_EQ(w, r);
}

TEST(DecodeImageTest, SixteenBitPngFollowsPil) {
  // Grey 16-bit = PIL mode I;16: convert("RGB") clips at 255.
  const uint16_t vals[] = {0, 100, 255, 256, 1000, 65535};
  cv::Mat g16(1, 6, CV_16UC1);
  for (int x = 0; x < 6; ++x) g16.at<uint16_t>(0, x) = vals[x];
  const RgbImage g = Decoded(Encode(".png", g16));
  const uint8_t want_gray[] = {0, 100, 255, 255, 255, 255};
  for (int x = 0; x < 6; ++x)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(g.at(0, x, c), want_gray[x]) << x;
  // RGB / RGBA 16-bit: PIL keeps the high byte.
  cv::Mat c16(1, 3, CV_16UC3), a16(1, 3, CV_16UC4);
  for (int x = 0; x < 3; ++x) {
    c16.at<cv::Vec3w>(0, x) = cv::Vec3w(0x0102 * (x + 1), 0xFF00 - x, 0x00FF);  // B, G, R
    a16.at<cv::Vec4w>(0, x) = cv::Vec4w(0x0102 * (x + 1), 0xFF00 - x, 0x00FF, 0);
  }
  const RgbImage c = Decoded(Encode(".png", c16));
  const RgbImage a = Decoded(Encode(".png", a16));
  for (int x = 0; x < 3; ++x) {
    EXPECT_EQ(c.at(0, x, 0), 0x00);                     // R 0x00FF -> 0
    EXPECT_EQ(c.at(0, x, 1), (0xFF00 - x) >> 8);        // G
    EXPECT_EQ(c.at(0, x, 2), (0x0102 * (x + 1)) >> 8);  // B
    EXPECT_EQ(a.at(0, x, 1), c.at(0, x, 1));
  }
  EXPECT_EQ(a, c);
}

// The 2x3 image a b c / d e f, each label a distinct grey level.
RgbImage Labels() {
  return MakeImage(
      2, 3, [](int64_t y, int64_t x, int) { return static_cast<uint8_t>(10 + 10 * (y * 3 + x)); });
}

std::vector<std::vector<int>> Grid(const RgbImage& img) {
  std::vector<std::vector<int>> g(img.height, std::vector<int>(img.width));
  for (int64_t y = 0; y < img.height; ++y)
    for (int64_t x = 0; x < img.width; ++x)
      g[y][x] = (img.at(y, x, 0) - 10) / 10;  // a = 0 ... f = 5
  return g;
}

// PIL's exif_transpose results for orientations 1..8 (a=0 b=1 c=2 / d=3 e=4 f=5).
const std::vector<std::vector<int>> kOriented[9] = {
    {},
    {{0, 1, 2}, {3, 4, 5}},    // 1 identity
    {{2, 1, 0}, {5, 4, 3}},    // 2 FLIP_LEFT_RIGHT
    {{5, 4, 3}, {2, 1, 0}},    // 3 ROTATE_180
    {{3, 4, 5}, {0, 1, 2}},    // 4 FLIP_TOP_BOTTOM
    {{0, 3}, {1, 4}, {2, 5}},  // 5 TRANSPOSE
    {{3, 0}, {4, 1}, {5, 2}},  // 6 ROTATE_270 (90° clockwise)
    {{5, 2}, {4, 1}, {3, 0}},  // 7 TRANSVERSE
    {{2, 5}, {1, 4}, {0, 3}},  // 8 ROTATE_90 (90° counter-clockwise)
};

TEST(ExifTest, AllEightOrientationsPngExif) {
  const std::string png = Encode(".png", ToBgrMat(Labels()));
  for (int o = 1; o <= 8; ++o) {
    for (bool le : {true, false}) {
      for (bool prefix : {true, false}) {
        std::string exif = testing_util::ExifOrientationBlock(o, le);
        if (!prefix) exif = exif.substr(6);
        auto r = DecodeImage(testing_util::PngWithChunk(png, "eXIf", exif));
        ASSERT_TRUE(r.ok()) << r.status();
        EXPECT_EQ(r->orientation, o);
        EXPECT_EQ(Grid(r->image), kOriented[o]) << "orientation " << o << (le ? " II" : " MM");
      }
    }
  }
}

TEST(ExifTest, JpegApp1AndXmpFallback) {
  const RgbImage src = NoiseImage(16, 24, 3);
  const std::string jpeg = Encode(".jpg", ToBgrMat(src), {cv::IMWRITE_JPEG_QUALITY, 95});
  const RgbImage plain = Decoded(jpeg);
  for (int o = 1; o <= 8; ++o) {
    auto r = DecodeImage(testing_util::JpegWithApp1(jpeg, testing_util::ExifOrientationBlock(o)));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->orientation, o);
    EXPECT_EQ(r->image, ApplyExifOrientation(plain, o));
    EXPECT_EQ(r->image.height, o >= 5 ? 24 : 16);
  }
  // XMP only: tiff:Orientation is honoured (Pillow's getexif fallback).
  const std::string xmp = std::string("http://ns.adobe.com/xap/1.0/\0", 29) +
                          "<x:xmpmeta><rdf:Description tiff:Orientation=\"8\"/></x:xmpmeta>";
  auto x = DecodeImage(testing_util::JpegWithApp1(jpeg, xmp));
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->orientation, 8);
  // EXIF present (orientation 1) wins over XMP.
  auto both = DecodeImage(testing_util::JpegWithApp1(testing_util::JpegWithApp1(jpeg, xmp),
                                                     testing_util::ExifOrientationBlock(1)));
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->orientation, 1);
  // Out-of-range values and multi-valued tags are ignored; orientation can be switched off.
  auto nine = DecodeImage(testing_util::JpegWithApp1(jpeg, testing_util::ExifOrientationBlock(9)));
  ASSERT_TRUE(nine.ok());
  EXPECT_EQ(nine->orientation, 1);
  ImageDecodeOptions no_exif;
  no_exif.apply_exif_orientation = false;
  auto off =
      DecodeImage(testing_util::JpegWithApp1(jpeg, testing_util::ExifOrientationBlock(6)), no_exif);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->image, plain);
}

TEST(ExifTest, ParserEdgeCases) {
  EXPECT_FALSE(ParseExifOrientation("").has_value());
  EXPECT_FALSE(ParseExifOrientation("garbage-garbage").has_value());
  EXPECT_EQ(ParseExifOrientation(testing_util::TiffWithTag(0x0112, 4, 6)), 6);  // LONG accepted
  EXPECT_FALSE(
      ParseExifOrientation(testing_util::TiffWithTag(0x0110, 3, 6)).has_value());  // other tag
  std::string truncated = testing_util::TiffWithTag(0x0112, 3, 6);
  EXPECT_FALSE(ParseExifOrientation(truncated.substr(0, 12)).has_value());
  std::string count2 = testing_util::TiffWithTag(0x0112, 3, 6);
  count2[14] = 2;  // count field of the entry
  EXPECT_EQ(ParseExifOrientation(count2), -1);
}

TEST(GifTest, DecodesPaletteImage) {
  testing_util::GifSpec s;
  s.screen_w = s.w = 7;
  s.screen_h = s.h = 5;
  s.palette = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 99, 199};
  for (int i = 0; i < 35; ++i) s.indices.push_back(static_cast<uint8_t>((i * 7 / 3) % 4));
  auto r = DecodeImage(testing_util::EncodeGif(s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->format, ImageFormat::kGif);
  ASSERT_EQ(r->image.height, 5);
  ASSERT_EQ(r->image.width, 7);
  for (int i = 0; i < 35; ++i)
    for (int c = 0; c < 3; ++c)
      EXPECT_EQ(r->image.pixels[i * 3 + c], s.palette[s.indices[i] * 3 + c]);
  // Interlaced storage, a local colour table and a second frame give the same first frame.
  testing_util::GifSpec t = s;
  t.interlaced = true;
  t.local_table = true;
  t.second_frame = true;
  auto r2 = DecodeImage(testing_util::EncodeGif(t));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->image, r->image);
  // Tall interlaced image (all four passes non-empty).
  testing_util::GifSpec tall;
  tall.screen_w = tall.w = 3;
  tall.screen_h = tall.h = 19;
  tall.palette = s.palette;
  for (int i = 0; i < 57; ++i) tall.indices.push_back(static_cast<uint8_t>((i / 3) % 4));
  testing_util::GifSpec tall_i = tall;
  tall_i.interlaced = true;
  EXPECT_EQ(Decoded(testing_util::EncodeGif(tall_i)), Decoded(testing_util::EncodeGif(tall)));
  EXPECT_EQ(Decoded(testing_util::EncodeGif(tall)).at(18, 0, 1),
            s.palette[((18 * 3 / 3) % 4) * 3 + 1]);
}

TEST(GifTest, CanvasOutsideTheFirstImage) {
  testing_util::GifSpec s;
  s.screen_w = 8;
  s.screen_h = 6;
  s.left = 2;
  s.top = 1;
  s.w = 3;
  s.h = 2;
  s.palette = {1, 2, 3, 40, 50, 60, 70, 80, 90, 200, 210, 220};
  s.indices = {1, 2, 1, 2, 1, 2};
  // No transparency: index 0 outside the rectangle.
  RgbImage a = Decoded(testing_util::EncodeGif(s));
  EXPECT_EQ(a.at(0, 0, 0), 1);
  EXPECT_EQ(a.at(1, 2, 0), 40);
  EXPECT_EQ(a.at(1, 3, 0), 70);
  EXPECT_EQ(a.at(5, 7, 2), 3);
  // Transparent index 3: the canvas is filled with it, and convert("RGB") keeps its colour.
  s.transparent = 3;
  RgbImage b = Decoded(testing_util::EncodeGif(s));
  EXPECT_EQ(b.at(0, 0, 0), 200);
  EXPECT_EQ(b.at(2, 3, 1), 50);  // second image row: indices 2 1 2
  EXPECT_EQ(b.at(2, 4, 1), 80);
  EXPECT_EQ(b.at(5, 7, 2), 220);
}

TEST(GifTest, IndicesPastThePaletteAreGrey) {
  testing_util::GifSpec s;
  s.screen_w = s.w = 4;
  s.screen_h = s.h = 1;
  s.palette = {10, 20, 30, 40, 50, 60};  // 2 entries, code size 2 allows indices 0..3
  s.indices = {0, 1, 2, 3};
  RgbImage r = Decoded(testing_util::EncodeGif(s));
  EXPECT_EQ(r.at(0, 2, 0), 2);
  EXPECT_EQ(r.at(0, 3, 2), 3);
  EXPECT_EQ(r.at(0, 1, 1), 50);
}

TEST(GifTest, Errors) {
  testing_util::GifSpec s;
  s.screen_w = s.w = 6;
  s.screen_h = s.h = 4;
  s.palette = {0, 0, 0, 255, 255, 255};
  s.indices.assign(24, 1);
  const std::string gif = testing_util::EncodeGif(s);
  ExpectError(gif.substr(0, gif.size() - 8), "truncated GIF");
  ExpectError(gif.substr(0, 12), "truncated GIF: 12 bytes, shorter than the 13-byte header");
  std::string zero = gif;
  zero[6] = zero[7] = 0;
  ExpectError(zero, "GIF image has zero size (0x4");
  std::string no_image = gif.substr(0, 13 + 6) + "\x3B";
  ExpectError(no_image, "GIF contains no image");
  std::string bad_code = gif;
  bad_code[13 + 6 + 10] = 12;  // the LZW minimum code size byte
  ExpectError(bad_code, "GIF: invalid LZW minimum code size 12");
  EXPECT_FALSE(DecodeGifFirstFrame("GIF89a", 1000).ok());
}

TEST(DecodeImageTest, BadInputsHavePreciseErrors) {
  const RgbImage img = NoiseImage(8, 8, 1);
  const std::string png = Encode(".png", ToBgrMat(img));
  const std::string jpeg = Encode(".jpg", ToBgrMat(img));
  ExpectError("", "empty image data (0 bytes)");
  ExpectError("hello world, not an image",
              "unrecognized image format (25 bytes, first bytes: 68 65 6c 6c");
  ExpectError(std::string("II*\0\x08\0\0\0", 8), "supported: JPEG, PNG, GIF, BMP, WebP");  // TIFF
  ExpectError(jpeg.substr(0, jpeg.size() / 2), "truncated JPEG: no end-of-image marker");
  ExpectError(jpeg.substr(0, 4), "JPEG: no frame header (SOF)");
  ExpectError(png.substr(0, png.size() - 30), "could not decode PNG data");
  ExpectError(png.substr(0, 20), "PNG data of 20 bytes is too short");
  // Declared dimensions are checked before decoding.
  std::string huge = png;
  huge.replace(16, 8, testing_util::Be32(100000) + testing_util::Be32(90000));
  ExpectError(
      huge, "PNG image of 100000x90000 = 9000000000 pixels exceeds the limit of 178956970 pixels");
  ImageDecodeOptions small;
  small.max_pixels = 63;
  ExpectError(png, "PNG image of 8x8 = 64 pixels exceeds the limit of 63 pixels", small);
  small = ImageDecodeOptions{};
  small.max_bytes = 10;
  ExpectError(png, "over the limit of 10 bytes", small);
  std::string zero = png;
  zero.replace(16, 4, testing_util::Be32(0));
  ExpectError(zero, "PNG image has zero size (0x8");
  ExpectError(std::string("BM") + std::string(30, '\0'), "BMP image has zero size");
  // Animated WebP (VP8X with the animation flag) is refused by name.
  std::string anim = std::string("RIFF\x40\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0", 24) +
                     std::string("\x07\0\0\x07\0\0", 6) + std::string(16, '\0');
  ExpectError(anim, "animated WebP is not supported");
}

TEST(DecodeImageTest, AspectRatioOver200IsRejectedByThePipeline) {
  cv::Mat wide(1, 300, CV_8UC3, cv::Scalar(1, 2, 3));
  auto r = PreprocessEncodedImage(Encode(".png", wide), ImageProcessorConfig{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              HasSubstr("aspect ratio must be at most 200, got 300 (image 300x1"));
  auto missing = PreprocessImageFile("/nonexistent/image.png", ImageProcessorConfig{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace qwen::vision

// Bounded fuzzing of the image decoding entry point: random mutations of small valid JPEG, PNG,
// GIF, BMP and WebP files must never crash; each call returns OK (a consistent image) or an error.
#include <chrono>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/vision/preprocess/test_util.h"
#include "vision_service/preprocess/decode_image.h"

namespace qwen::vision {
namespace {

using testing_util::Encode;
using testing_util::NoiseImage;
using testing_util::ToBgrMat;

std::vector<std::string> Seeds() {
  const cv::Mat bgr = ToBgrMat(NoiseImage(12, 17, 42));
  cv::Mat gray;
  cv::extractChannel(bgr, gray, 1);
  testing_util::GifSpec g;
  g.screen_w = g.w = 9;
  g.screen_h = g.h = 7;
  g.palette = {0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255};
  for (int i = 0; i < 63; ++i) g.indices.push_back(static_cast<uint8_t>(i % 4));
  g.interlaced = true;
  std::vector<std::string> seeds = {
      Encode(".jpg", bgr, {cv::IMWRITE_JPEG_QUALITY, 80}),
      Encode(".jpg", bgr, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}),
      Encode(".png", bgr),
      Encode(".png", gray),
      Encode(".bmp", bgr),
      Encode(".webp", bgr, {cv::IMWRITE_WEBP_QUALITY, 101}),
      Encode(".webp", bgr, {cv::IMWRITE_WEBP_QUALITY, 60}),
      testing_util::EncodeGif(g),
  };
  seeds.push_back(testing_util::JpegWithApp1(seeds[0], testing_util::ExifOrientationBlock(6)));
  seeds.push_back(
      testing_util::PngWithChunk(seeds[2], "eXIf", testing_util::ExifOrientationBlock(8)));
  // A real LZW stream (Pillow's writer) when the reference case is present.
  const std::string pil_gif =
      testing_util::SourcePath("tests/reference/image_preprocess_gif/image.gif");
  if (FILE* f = std::fopen(pil_gif.c_str(), "rb")) {
    std::fclose(f);
    seeds.push_back(testing_util::ReadFileOrDie(pil_gif));
  }
  return seeds;
}

std::string Mutate(const std::string& in, std::mt19937& rng) {
  std::string s = in;
  const int kind = static_cast<int>(rng() % 6);
  const int edits = 1 + static_cast<int>(rng() % 8);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const size_t pos = rng() % s.size();
    switch (kind) {
      case 0:
        s[pos] = static_cast<char>(rng());
        break;  // random byte
      case 1:
        s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8)));
        break;  // bit flip
      case 2:
        s.resize(pos);
        break;  // truncation
      case 3:
        s.insert(pos, std::string(1 + rng() % 16, static_cast<char>(rng())));
        break;
      case 4:
        s.erase(pos, 1 + rng() % 16);
        break;
      case 5:
        s[pos] = static_cast<char>(rng() % 2 ? 0xFF : 0x00);
        break;  // extremes
    }
  }
  return s;
}

TEST(ImageFuzzTest, MutationsNeverCrash) {
  const std::vector<std::string> seeds = Seeds();
  ASSERT_GE(seeds.size(), 10u);
  for (const std::string& s : seeds) ASSERT_TRUE(DecodeImage(s).ok()) << "seed must decode";
  std::mt19937 rng(20261128);
  ImageDecodeOptions opts;
  opts.max_pixels = 1 << 22;  // keeps mutated headers from asking for huge buffers
  const auto start = std::chrono::steady_clock::now();
  int ok = 0, errors = 0;
  constexpr int kIterations = 20000;  // ~1 s here; the bound below is 20 s
  for (int i = 0; i < kIterations; ++i) {
    const std::string input = Mutate(seeds[i % seeds.size()], rng);
    absl::StatusOr<DecodedImage> r = DecodeImage(input, opts);
    if (r.ok()) {
      ++ok;
      ASSERT_GT(r->image.height, 0);
      ASSERT_GT(r->image.width, 0);
      ASSERT_EQ(r->image.pixels.size(), static_cast<size_t>(r->image.height * r->image.width * 3));
      ASSERT_LE(r->image.height * r->image.width, opts.max_pixels);
    } else {
      ++errors;
      ASSERT_FALSE(r.status().message().empty());
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fuzz: %d decoded, %d rejected in %.2f s\n", ok, errors, seconds);
  EXPECT_EQ(ok + errors, kIterations);
  EXPECT_GT(errors, 0);
  EXPECT_LT(seconds, 20.0);
}

}  // namespace
}  // namespace qwen::vision

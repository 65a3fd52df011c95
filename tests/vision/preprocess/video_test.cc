// Video decoding through OpenCV (files written here with cv::VideoWriter) and the video pipeline.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/vision/preprocess/test_util.h"
#include "vision_service/preprocess/frame_sampling.h"
#include "vision_service/preprocess/video_decode.h"
#include "vision_service/preprocess/video_preprocessor.h"

namespace qwen::vision {
namespace {

namespace fs = std::filesystem;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_util::NoiseImage;

class VideoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("qwen_vis_video_" + std::to_string(getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::vector<RgbImage> Frames(int n, int h, int w) {
    std::vector<RgbImage> frames;
    for (int t = 0; t < n; ++t) frames.push_back(NoiseImage(h, w, 100 + t));
    return frames;
  }

  // Writes `frames` with OpenCV's FFmpeg writer; returns the path.
  fs::path Write(const std::string& name, const char* fourcc, double fps,
                 const std::vector<RgbImage>& frames, int h = 48, int w = 64) {
    const fs::path p = dir_ / name;
    cv::VideoWriter writer;
    EXPECT_TRUE(writer.open(p.string(), cv::CAP_FFMPEG,
                            cv::VideoWriter::fourcc(fourcc[0], fourcc[1], fourcc[2], fourcc[3]),
                            fps, cv::Size(w, h), true))
        << name;
    for (const RgbImage& f : frames) writer.write(testing_util::ToBgrMat(f));
    writer.release();
    return p;
  }

  fs::path dir_;
};

TEST_F(VideoTest, LosslessRoundTripFfv1Mkv) {
  const std::vector<RgbImage> frames = Frames(12, 48, 64);
  const fs::path p = Write("a.mkv", "FFV1", 10.0, frames);
  auto v = DecodeAllVideoFrames(p);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->metadata.total_frames, 12);
  ASSERT_TRUE(v->metadata.fps.has_value());
  EXPECT_DOUBLE_EQ(*v->metadata.fps, 10.0);
  EXPECT_EQ(v->metadata.width, 64);
  EXPECT_EQ(v->metadata.height, 48);
  ASSERT_EQ(v->frames.size(), 12u);
  for (int t = 0; t < 12; ++t) EXPECT_EQ(v->frames[t], frames[t]) << "frame " << t;
}

TEST_F(VideoTest, LosslessRoundTripFfv1AviAndPngMkv) {
  const std::vector<RgbImage> frames = Frames(5, 48, 64);
  for (auto [name, fourcc] : {std::pair{"b.avi", "FFV1"}, std::pair{"c.mkv", "png "}}) {
    auto v = DecodeAllVideoFrames(Write(name, fourcc, 25.0, frames));
    ASSERT_TRUE(v.ok()) << name << ": " << v.status();
    ASSERT_EQ(v->frames.size(), 5u) << name;
    for (int t = 0; t < 5; ++t) EXPECT_EQ(v->frames[t], frames[t]) << name << " frame " << t;
    EXPECT_DOUBLE_EQ(v->metadata.fps.value_or(0), 25.0) << name;
  }
}

TEST_F(VideoTest, LossyCodecsDecode) {
  // Smooth content so lossy codecs stay close.
  std::vector<RgbImage> frames;
  for (int t = 0; t < 8; ++t) {
    frames.push_back(testing_util::MakeImage(48, 64, [t](int64_t y, int64_t x, int c) {
      return static_cast<uint8_t>(60 + 2 * x + y + 10 * t + 30 * c);
    }));
  }
  for (auto [name, fourcc] :
       {std::pair{"d.avi", "MJPG"}, std::pair{"e.mp4", "avc1"}, std::pair{"f.webm", "VP90"}}) {
    auto v = DecodeAllVideoFrames(Write(name, fourcc, 30.0, frames));
    ASSERT_TRUE(v.ok()) << name << ": " << v.status();
    ASSERT_EQ(v->frames.size(), 8u) << name;
    double err = 0;
    for (int t = 0; t < 8; ++t)
      for (size_t i = 0; i < frames[t].pixels.size(); ++i)
        err += std::abs(v->frames[t].pixels[i] - frames[t].pixels[i]);
    EXPECT_LT(err / (8.0 * frames[0].pixels.size()), 6.0) << name;
  }
}

TEST_F(VideoTest, PipelineSamplesOnlyWhatItNeeds) {
  const std::vector<RgbImage> frames = Frames(12, 48, 64);
  const fs::path p = Write("g.mkv", "FFV1", 10.0, frames);
  const VideoProcessorConfig cfg;  // shipped
  auto r = PreprocessVideoFile(p, cfg);
  ASSERT_TRUE(r.ok()) << r.status();
  // n = int(12 / 10 * 2) = 2 -> 4 (min_frames); linspace(0, 11, 4) = [0, 3.67, 7.33, 11].
  EXPECT_THAT(r->frame_indices, ElementsAre(0, 4, 7, 11));
  EXPECT_EQ(r->grid, (GridThw{2, 4, 4}));  // 48x64 -> 64x64
  EXPECT_EQ(r->tokens_per_group, 4);
  EXPECT_THAT(r->timestamps, ElementsAre((0.0 + 0.4) / 2, (0.7 + 1.1) / 2));
  // Same as the pre-decoded-frames path on the written frames.
  auto pre = PreprocessVideoFrames(frames, 10.0, cfg);
  ASSERT_TRUE(pre.ok()) << pre.status();
  ASSERT_EQ(pre->pixel_values_videos.numel(), r->pixel_values_videos.numel());
  for (int64_t i = 0; i < pre->pixel_values_videos.numel(); ++i) {
    ASSERT_EQ(pre->pixel_values_videos.data<float>()[i], r->pixel_values_videos.data<float>()[i])
        << i;
  }
  // And from bytes (through a temporary file).
  auto b = PreprocessVideoBytes(testing_util::ReadFileOrDie(p.string()), cfg);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->frame_indices, r->frame_indices);
  EXPECT_EQ(b->grid, r->grid);
}

TEST_F(VideoTest, OverReportedFrameCountIsCorrected) {
  // A truncated AVI still declares 30 frames in its header; the frames actually decodable win.
  const std::vector<RgbImage> frames = Frames(30, 48, 64);
  const fs::path p = Write("h.avi", "MJPG", 10.0, frames);
  const std::string full = testing_util::ReadFileOrDie(p.string());
  const fs::path cut = dir_ / "cut.avi";
  std::ofstream(cut, std::ios::binary) << full.substr(0, full.size() * 6 / 10);
  auto all = DecodeAllVideoFrames(cut);
  ASSERT_TRUE(all.ok()) << all.status();
  const int64_t real = all->metadata.total_frames;
  EXPECT_GT(real, 5);
  EXPECT_LT(real, 30);
  auto v = DecodeVideoFile(cut, [](int64_t total, std::optional<double> fps) {
    return SampleFrameIndices(total, fps, VideoProcessorConfig{});
  });
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->metadata.counted);  // the header's count was replaced by the frames actually read
  EXPECT_EQ(v->metadata.total_frames, real);
  auto want = SampleFrameIndices(real, 10.0, VideoProcessorConfig{});
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(v->frame_indices, *want);
  EXPECT_EQ(v->frames.size(), want->size());
}

TEST_F(VideoTest, BadVideosHaveClearErrors) {
  // Missing file.
  auto missing = PreprocessVideoFile(dir_ / "missing.mp4", VideoProcessorConfig{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("missing.mp4"));
  // Not a video.
  const fs::path junk = dir_ / "junk.mp4";
  std::ofstream(junk, std::ios::binary) << std::string(4096, 'x');
  auto bad = PreprocessVideoFile(junk, VideoProcessorConfig{});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("cannot read video"));
  EXPECT_THAT(bad.status().message(), HasSubstr("junk.mp4"));
  // A container without frames.
  const fs::path empty = Write("empty.mkv", "FFV1", 10.0, {});
  auto none = PreprocessVideoFile(empty, VideoProcessorConfig{});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(none.status().message(),
              AnyOf(HasSubstr("contains no frames"), HasSubstr("cannot read video")));
  // Frames over the pixel limit are refused before decoding.
  VideoDecodeOptions tiny;
  tiny.max_frame_pixels = 1000;
  auto big = PreprocessVideoFile(Write("big.mkv", "FFV1", 10.0, Frames(2, 48, 64)),
                                 VideoProcessorConfig{}, tiny);
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.status().message(), HasSubstr("frames of 64x48 exceed the limit of 1000 pixels"));
  // Bytes.
  auto nobytes = PreprocessVideoBytes("", VideoProcessorConfig{});
  ASSERT_FALSE(nobytes.ok());
  EXPECT_THAT(nobytes.status().message(), HasSubstr("empty video data"));
  auto junk_bytes = PreprocessVideoBytes(std::string(1000, '\x01'), VideoProcessorConfig{});
  ASSERT_FALSE(junk_bytes.ok());
  EXPECT_THAT(junk_bytes.status().message(), HasSubstr("cannot read video <video data>"));
}

TEST(VideoPreprocessorTest, FrameErrors) {
  const VideoProcessorConfig cfg;
  // One frame: fewer than temporal_patch_size (HF raises too).
  auto one = PreprocessVideoFrames({NoiseImage(64, 64, 1)}, 10.0, cfg);
  ASSERT_FALSE(one.ok());
  EXPECT_THAT(one.status().message(),
              HasSubstr("video has 1 sampled frames; at least temporal_patch_size = 2"));
  auto mixed = PreprocessVideoFrames({NoiseImage(64, 64, 1), NoiseImage(32, 64, 2)}, 10.0, cfg);
  ASSERT_FALSE(mixed.ok());
  EXPECT_THAT(mixed.status().message(), HasSubstr("video frame 1 is 64x32 but frame 0 is 64x64"));
  auto none = PreprocessVideoFrames({}, 10.0, cfg);
  ASSERT_FALSE(none.ok());
  auto bad_fps =
      PreprocessSampledFrames({NoiseImage(64, 64, 1), NoiseImage(64, 64, 2)}, {0, 1}, -1.0, cfg);
  ASSERT_FALSE(bad_fps.ok());
  EXPECT_THAT(bad_fps.status().message(), HasSubstr("video fps must be positive"));
}

TEST(VideoPreprocessorTest, CapPixelsPerFrame) {
  // 4 frames of 1000x1000 with longest_edge 4e6: uncapped 4 * 992 * 992 fits; capped at
  // 768 * 32 * 32 = 786432 pixels a frame, beta = sqrt(4e6 / 3145728) -> 864x864.
  std::vector<RgbImage> frames(4, testing_util::MakeImage(1000, 1000, [](int64_t, int64_t, int c) {
                                 return static_cast<uint8_t>(40 * c);
                               }));
  VideoProcessorConfig cfg;
  cfg.image.max_pixels = 4000000;
  cfg.do_sample_frames = false;
  auto plain = PreprocessVideoFrames(frames, 30.0, cfg);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->resized, (ResizedSize{992, 992}));
  cfg.cap_pixels_per_frame = true;
  auto capped = PreprocessVideoFrames(frames, 30.0, cfg);
  ASSERT_TRUE(capped.ok()) << capped.status();
  EXPECT_EQ(capped->resized, (ResizedSize{864, 864}));
  EXPECT_EQ(capped->grid, (GridThw{2, 54, 54}));
}

}  // namespace
}  // namespace qwen::vision

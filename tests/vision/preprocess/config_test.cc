#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vision_service/preprocess/preprocess_config.h"

namespace qwen::vision {
namespace {

using ::testing::HasSubstr;

// The shipped Qwen3.5 preprocessor_config.json (MODEL.md §6.1).
constexpr char kShippedImage[] = R"({
  "size": {"longest_edge": 16777216, "shortest_edge": 65536},
  "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2,
  "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
  "processor_class": "Qwen3VLProcessor", "image_processor_type": "Qwen2VLImageProcessorFast"
})";

constexpr char kShippedVideo[] = R"({
  "size": {"longest_edge": 25165824, "shortest_edge": 4096},
  "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2,
  "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
  "fps": 2, "min_frames": 4, "max_frames": 768, "do_sample_frames": true,
  "video_processor_type": "Qwen3VLVideoProcessor"
})";

TEST(PreprocessConfigTest, ParsesShippedImageConfig) {
  auto cfg = ParseImageProcessorConfig(kShippedImage, "preprocessor_config.json");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->min_pixels, 65536);
  EXPECT_EQ(cfg->max_pixels, 16777216);
  EXPECT_EQ(cfg->patch_size, 16);
  EXPECT_EQ(cfg->temporal_patch_size, 2);
  EXPECT_EQ(cfg->merge_size, 2);
  EXPECT_EQ(cfg->factor(), 32);
  EXPECT_EQ(cfg->patch_dim(), 1536);
  EXPECT_TRUE(cfg->do_resize && cfg->do_rescale && cfg->do_normalize);
  EXPECT_DOUBLE_EQ(cfg->rescale_factor, 1.0 / 255.0);
  EXPECT_EQ(cfg->image_mean[2], 0.5);
  EXPECT_EQ(cfg->resample, 3);
  // The defaults of the struct are the shipped values.
  const ImageProcessorConfig def = Qwen35ImageProcessorConfig();
  EXPECT_EQ(def.min_pixels, cfg->min_pixels);
  EXPECT_EQ(def.max_pixels, cfg->max_pixels);
}

TEST(PreprocessConfigTest, ParsesShippedVideoConfig) {
  auto cfg = ParseVideoProcessorConfig(kShippedVideo, "video_preprocessor_config.json");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->image.min_pixels, 4096);
  EXPECT_EQ(cfg->image.max_pixels, 25165824);
  ASSERT_TRUE(cfg->fps.has_value());
  EXPECT_EQ(*cfg->fps, 2.0);
  EXPECT_EQ(cfg->min_frames, 4);
  EXPECT_EQ(cfg->max_frames, 768);
  EXPECT_TRUE(cfg->do_sample_frames);
  EXPECT_FALSE(cfg->num_frames.has_value());
  EXPECT_FALSE(cfg->cap_pixels_per_frame);
  const VideoProcessorConfig def = Qwen35VideoProcessorConfig();
  EXPECT_EQ(def.image.min_pixels, 4096);
  EXPECT_EQ(def.image.max_pixels, 25165824);
}

TEST(PreprocessConfigTest, LegacyPixelKeys) {
  // Old Qwen2-VL spelling inside `size`.
  auto a = ParseImageProcessorConfig(R"({"size": {"min_pixels": 3136, "max_pixels": 12845056},
      "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2, "image_mean": 0.5, "image_std": 0.5})",
                                     "a.json");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->min_pixels, 3136);
  EXPECT_EQ(a->max_pixels, 12845056);
  EXPECT_EQ(a->image_mean[1], 0.5);  // a scalar broadcasts
  // Top-level min_pixels / max_pixels override size (as HF's constructor does).
  auto b = ParseImageProcessorConfig(R"({"size": {"shortest_edge": 100, "longest_edge": 200000},
      "min_pixels": 4096, "max_pixels": 1000000.0,
      "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2,
      "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})",
                                     "b.json");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->min_pixels, 4096);
  EXPECT_EQ(b->max_pixels, 1000000);
}

TEST(PreprocessConfigTest, ErrorsNameFileAndField) {
  struct Case {
    const char* json;
    const char* expect;
  } cases[] = {
      {"not json", "cfg.json: not valid JSON"},
      {"[1, 2]", "cfg.json: top level must be a JSON object"},
      {R"({"patch_size": 16, "temporal_patch_size": 2, "merge_size": 2, "image_mean": 0.5, "image_std": 0.5})",
       "cfg.json: field 'size.shortest_edge'"},
      {R"({"size": {"shortest_edge": 10, "longest_edge": 20}, "temporal_patch_size": 2, "merge_size": 2,
          "image_mean": 0.5, "image_std": 0.5})",
       "cfg.json: field 'patch_size' is missing"},
      {R"({"size": {"shortest_edge": 10, "longest_edge": 20}, "patch_size": "16", "temporal_patch_size": 2,
          "merge_size": 2, "image_mean": 0.5, "image_std": 0.5})",
       "cfg.json: field 'patch_size' must be an integer"},
      {R"({"size": {"shortest_edge": 10.5, "longest_edge": 20}, "patch_size": 16, "temporal_patch_size": 2,
          "merge_size": 2, "image_mean": 0.5, "image_std": 0.5})",
       "cfg.json: field 'size.shortest_edge' must be an integer"},
      {R"({"size": {"shortest_edge": 10, "longest_edge": 20}, "patch_size": 16, "temporal_patch_size": 2,
          "merge_size": 2, "image_mean": [0.5, 0.5], "image_std": 0.5})",
       "cfg.json: field 'image_mean' must be a number or a list of 3 numbers"},
      {R"({"size": {"shortest_edge": 10, "longest_edge": 20}, "patch_size": 16, "temporal_patch_size": 2,
          "merge_size": 2, "image_mean": 0.5, "image_std": [0.5, 0, 0.5]})",
       "cfg.json: field 'image_std' must hold finite non-zero values"},
      {R"({"size": {"shortest_edge": 30, "longest_edge": 20}, "patch_size": 16, "temporal_patch_size": 2,
          "merge_size": 2, "image_mean": 0.5, "image_std": 0.5})",
       "min pixels (size.shortest_edge) 30 exceed max pixels (size.longest_edge) 20"},
      {R"({"size": {"shortest_edge": 10, "longest_edge": 20}, "patch_size": 16, "temporal_patch_size": 2,
          "merge_size": 2, "image_mean": 0.5, "image_std": 0.5, "do_resize": "yes"})",
       "cfg.json: field 'do_resize' must be true or false"},
      {R"({"size": {"shortest_edge": 10, "longest_edge": 20}, "patch_size": 16, "temporal_patch_size": 2,
          "merge_size": 2, "image_mean": 0.5, "image_std": 0.5, "rescale_factor": -1})",
       "cfg.json: field 'rescale_factor' must be a positive number"},
      {R"({"size": 7, "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2, "image_mean": 0.5,
          "image_std": 0.5})",
       "cfg.json: field 'size' must be an object"},
  };
  for (const Case& c : cases) {
    auto cfg = ParseImageProcessorConfig(c.json, "cfg.json");
    ASSERT_FALSE(cfg.ok()) << c.json;
    EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(cfg.status().message(), HasSubstr(c.expect)) << c.json;
  }
}

TEST(PreprocessConfigTest, OnlyBicubicIsImplemented) {
  auto cfg = ParseImageProcessorConfig(
      R"({"size": {"shortest_edge": 10, "longest_edge": 20}, "patch_size": 16,
      "temporal_patch_size": 2, "merge_size": 2, "image_mean": 0.5, "image_std": 0.5, "resample": 2})",
      "c.json");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(cfg.status().message(), HasSubstr("field 'resample' is 2"));
}

TEST(PreprocessConfigTest, VideoFields) {
  auto cfg = ParseVideoProcessorConfig(R"({"size": {"shortest_edge": 4096, "longest_edge": 100000},
      "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2, "image_mean": 0.5, "image_std": 0.5,
      "fps": null, "num_frames": 8, "min_frames": 2, "max_frames": 16, "do_sample_frames": false,
      "cap_pixels_per_frame": true})",
                                       "v.json");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_FALSE(cfg->fps.has_value());  // explicit null: no fps-based sampling
  EXPECT_EQ(cfg->num_frames, 8);
  EXPECT_EQ(cfg->min_frames, 2);
  EXPECT_EQ(cfg->max_frames, 16);
  EXPECT_FALSE(cfg->do_sample_frames);
  EXPECT_TRUE(cfg->cap_pixels_per_frame);

  auto bad = ParseVideoProcessorConfig(R"({"size": {"shortest_edge": 4096, "longest_edge": 100000},
      "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2, "image_mean": 0.5, "image_std": 0.5,
      "min_frames": 9, "max_frames": 4})",
                                       "v.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("v.json: min_frames 9 exceeds max_frames 4"));
  auto bad_fps =
      ParseVideoProcessorConfig(R"({"size": {"shortest_edge": 4096, "longest_edge": 100000},
      "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2, "image_mean": 0.5, "image_std": 0.5,
      "fps": 0})",
                                "v.json");
  ASSERT_FALSE(bad_fps.ok());
  EXPECT_THAT(bad_fps.status().message(),
              HasSubstr("v.json: field 'fps' must be a positive number"));
}

TEST(PreprocessConfigTest, LoadFromFileNamesMissingFile) {
  auto cfg = LoadImageProcessorConfig("/nonexistent/preprocessor_config.json");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(cfg.status().message(), HasSubstr("/nonexistent/preprocessor_config.json"));
}

}  // namespace
}  // namespace qwen::vision

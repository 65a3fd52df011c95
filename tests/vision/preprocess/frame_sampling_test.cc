#include "vision_service/preprocess/frame_sampling.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qwen::vision {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int64_t> Sample(int64_t total, std::optional<double> fps,
                            const VideoProcessorConfig& cfg = {}) {
  auto r = SampleFrameIndices(total, fps, cfg);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<int64_t>{};
}

TEST(NumpyLinspaceTest, MatchesNumpy) {
  EXPECT_THAT(NumpyLinspace(0, 9, 5), ElementsAre(0, 2.25, 4.5, 6.75, 9));
  EXPECT_THAT(NumpyLinspace(0, 5, 1), ElementsAre(0));
  EXPECT_THAT(NumpyLinspace(0, 0, 3), ElementsAre(0, 0, 0));
  const std::vector<double> v = NumpyLinspace(0, 35, 7);  // step 35/6
  EXPECT_EQ(v[3], 3 * (35.0 / 6));                        // i * step, not i * 35 / 6
  EXPECT_EQ(v[6], 35.0);                                  // the endpoint is exact
}

// Expected values computed with numpy: np.linspace(0, N-1, n).round().astype(int) where
// n = min(max(int(N / fps * 2), 4), 768, N).
TEST(SampleFrameIndicesTest, KnownPairs) {
  EXPECT_THAT(Sample(10, 4.0), ElementsAre(0, 2, 4, 7, 9));              // 4.5 -> 4 (half to even)
  EXPECT_THAT(Sample(36, 10.0), ElementsAre(0, 6, 12, 18, 23, 29, 35));  // 17.5 -> 18
  EXPECT_THAT(Sample(50, std::nullopt), ElementsAre(0, 16, 33, 49));     // fps unknown -> 24
  EXPECT_THAT(Sample(3, 30.0), ElementsAre(0, 1, 2));  // fewer frames than min_frames
  EXPECT_THAT(Sample(7, 29.97), ElementsAre(0, 2, 4, 6));
  EXPECT_THAT(Sample(61, 24.0), ElementsAre(0, 15, 30, 45, 60));
  EXPECT_THAT(Sample(25, 25.0), ElementsAre(0, 8, 16, 24));
  EXPECT_THAT(Sample(1, 30.0), ElementsAre(0));
  EXPECT_THAT(Sample(2, 1.0), ElementsAre(0, 1));
  EXPECT_THAT(Sample(9, 3.0), ElementsAre(0, 2, 3, 5, 6, 8));
  const std::vector<int64_t> k = Sample(1000, 30.0);  // n = int(66.67) = 66
  ASSERT_EQ(k.size(), 66u);
  EXPECT_THAT(std::vector<int64_t>(k.begin(), k.begin() + 8),
              ElementsAre(0, 15, 31, 46, 61, 77, 92, 108));
  EXPECT_THAT(std::vector<int64_t>(k.end() - 3, k.end()), ElementsAre(968, 984, 999));
  const std::vector<int64_t> big = Sample(100000, 30.0);  // capped at max_frames = 768
  ASSERT_EQ(big.size(), 768u);
  EXPECT_THAT(std::vector<int64_t>(big.begin(), big.begin() + 5),
              ElementsAre(0, 130, 261, 391, 522));
  EXPECT_EQ(big.back(), 99999);
}

TEST(SampleFrameIndicesTest, ConfigVariants) {
  VideoProcessorConfig all;
  all.do_sample_frames = false;
  EXPECT_THAT(Sample(5, 30.0, all), ElementsAre(0, 1, 2, 3, 4));
  VideoProcessorConfig fixed;
  fixed.fps.reset();
  fixed.num_frames = 8;
  EXPECT_THAT(Sample(10, 30.0, fixed), ElementsAre(0, 1, 3, 4, 5, 6, 8, 9));  // linspace(0, 9, 8)
  VideoProcessorConfig neither;
  neither.fps.reset();
  EXPECT_THAT(Sample(2, 30.0, neither),
              ElementsAre(0, 0, 1, 1));  // min(max(2, 4), 768) = 4 samples
  VideoProcessorConfig both;
  both.num_frames = 8;
  auto r = SampleFrameIndices(10, 30.0, both);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("mutually exclusive"));
  auto empty = SampleFrameIndices(0, 30.0, VideoProcessorConfig{});
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("video contains no frames"));
}

TEST(GroupTimestampsTest, PadsAndAveragesGroupEnds) {
  // HF's values for the committed cases.
  EXPECT_THAT(GroupTimestamps({0, 2, 4, 7, 9}, 4.0, 2), ElementsAre(0.25, 1.375, 2.25));
  EXPECT_THAT(GroupTimestamps({0, 16, 33, 49}, 24.0, 2),
              ElementsAre((0.0 + 16.0 / 24) / 2, (33.0 / 24 + 49.0 / 24) / 2));
  // Odd count: the last index is repeated, so the last group is (35 + 35) / 2 / fps.
  EXPECT_THAT(GroupTimestamps({0, 6, 12, 18, 23, 29, 35}, 10.0, 2),
              ElementsAre((0.0 + 0.6) / 2, (1.2 + 1.8) / 2, (2.3 + 2.9) / 2, 3.5));
  EXPECT_THAT(GroupTimestamps({0, 6, 12}, 10.0, 3), ElementsAre((0.0 + 1.2) / 2));
  EXPECT_TRUE(GroupTimestamps({}, 10.0, 2).empty());
}

}  // namespace
}  // namespace qwen::vision

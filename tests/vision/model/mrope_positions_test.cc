// get_rope_index and placeholder expansion (text_service/model/mrope_positions.h) against the
// worked example of MODEL.md 3.1 and hand-computed image/video prompts.
#include "text_service/model/mrope_positions.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qwen::text {
namespace {

using Ids = std::vector<int64_t>;

void ExpectError(const absl::Status& s, const std::vector<std::string>& fragments) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  for (const std::string& f : fragments) {
    EXPECT_NE(std::string(s.message()).find(f), std::string::npos)
        << "message \"" << s.message() << "\" lacks \"" << f << "\"";
  }
}

// Rows T, H, W of a [3, T] position array.
Ids Row(const MropePositions& p, int axis) {
  const size_t n = p.positions.size() / 3;
  return Ids(p.positions.begin() + axis * n, p.positions.begin() + (axis + 1) * n);
}

TEST(GetRopeIndexTest, WorkedExampleOfModelMd) {
  // [A, <vs>, img(h'=2, w'=3), <ve>, B]: grid (1, 4, 6) with merge 2.
  const Ids types = {0, 0, 1, 1, 1, 1, 1, 1, 0, 0};
  auto p = GetRopeIndex(types, std::vector<MmGrid>{{1, 4, 6}}, {}, 2);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Row(*p, 0), (Ids{0, 1, 2, 2, 2, 2, 2, 2, 5, 6}));
  EXPECT_EQ(Row(*p, 1), (Ids{0, 1, 2, 2, 2, 3, 3, 3, 5, 6}));
  EXPECT_EQ(Row(*p, 2), (Ids{0, 1, 2, 3, 4, 2, 3, 4, 5, 6}));
  EXPECT_EQ(p->rope_delta, -3);
}

TEST(GetRopeIndexTest, VideoGroupsAreSeparateRunsAdvancingByMaxSide) {
  // t0 <vs> ts ts <vs> [4 video] <ve> ts ts <vs> [4 video] <ve> <ve> t1, video grid (2, 4, 4):
  // each temporal group is a [1, 4, 4] grid (2x2 merged) and advances p by max(2, 2) = 2.
  const Ids types = {0, 0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0};
  auto p = GetRopeIndex(types, {}, std::vector<MmGrid>{{2, 4, 4}}, 2);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Row(*p, 0), (Ids{0, 1, 2, 3, 4, 5, 5, 5, 5, 7, 8, 9, 10, 11, 11, 11, 11, 13, 14, 15}));
  EXPECT_EQ(Row(*p, 1), (Ids{0, 1, 2, 3, 4, 5, 5, 6, 6, 7, 8, 9, 10, 11, 11, 12, 12, 13, 14, 15}));
  EXPECT_EQ(Row(*p, 2), (Ids{0, 1, 2, 3, 4, 5, 6, 5, 6, 7, 8, 9, 10, 11, 12, 11, 12, 13, 14, 15}));
  EXPECT_EQ(p->rope_delta, 15 + 1 - 20);
}

TEST(GetRopeIndexTest, NonSquareVideoThenImageAndTemporalImage) {
  // <vs>[video group 1x(2x4 -> 1x2)]<ve><vs>[image t=2, 2x4 -> t 2 x 1 x 2]<ve>:
  // video group: pT=1, pH=1, pW=1,2; p = 1 + max(1, 2) = 3. <ve>=3, <vs>=4.
  // image (t=2): pT = 5 + ti, pH = 5, pW = 5 + wi; p = 5 + max(2, 4)/2 = 7; <ve> = 7.
  const Ids types = {0, 2, 2, 0, 0, 1, 1, 1, 1, 0};
  auto p = GetRopeIndex(types, std::vector<MmGrid>{{2, 2, 4}}, std::vector<MmGrid>{{1, 2, 4}}, 2);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Row(*p, 0), (Ids{0, 1, 1, 3, 4, 5, 5, 6, 6, 7}));
  EXPECT_EQ(Row(*p, 1), (Ids{0, 1, 1, 3, 4, 5, 5, 5, 5, 7}));
  EXPECT_EQ(Row(*p, 2), (Ids{0, 1, 2, 3, 4, 5, 6, 5, 6, 7}));
  EXPECT_EQ(p->rope_delta, 7 + 1 - 10);
}

TEST(GetRopeIndexTest, TextOnlyHasPlainPositionsAndZeroDelta) {
  auto p = GetRopeIndex(Ids(5, 0), {}, {}, 2);
  ASSERT_TRUE(p.ok()) << p.status();
  for (int axis = 0; axis < 3; ++axis) EXPECT_EQ(Row(*p, axis), (Ids{0, 1, 2, 3, 4}));
  EXPECT_EQ(p->rope_delta, 0);
}

TEST(GetRopeIndexTest, FromIdsUsesTheConfigPlaceholders) {
  core::ModelConfig config;
  config.image_token_id = 9;
  config.video_token_id = 8;
  config.vision = core::VisionConfig{};
  const Ids ids = {3, 7, 9, 9, 9, 9, 9, 9, 4, 5};
  auto p = GetRopeIndexFromIds(config, ids, std::vector<MmGrid>{{1, 4, 6}}, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Row(*p, 2), (Ids{0, 1, 2, 3, 4, 2, 3, 4, 5, 6}));
  EXPECT_EQ(p->rope_delta, -3);
  EXPECT_EQ(MmTokenTypesFromIds(Ids{1, 9, 8, 9}, 9, 8), (Ids{0, 1, 2, 1}));
}

TEST(GetRopeIndexTest, RejectsInconsistentRunsAndGrids) {
  // Two adjacent video groups without a separator form one 8-token run.
  ExpectError(
      GetRopeIndex(Ids{0, 2, 2, 2, 2, 2, 2, 2, 2}, {}, std::vector<MmGrid>{{2, 4, 4}}, 2).status(),
      {"video placeholder run at token 1", "8 tokens", "needs 4"});
  ExpectError(GetRopeIndex(Ids{0, 1, 1, 0, 1}, std::vector<MmGrid>{{1, 2, 4}}, {}, 2).status(),
              {"image placeholder run at token 4", "no grid left"});
  ExpectError(
      GetRopeIndex(Ids{0, 1, 1, 0}, std::vector<MmGrid>{{1, 2, 4}, {1, 2, 2}}, {}, 2).status(),
      {"1 of 2 images"});
  ExpectError(GetRopeIndex(Ids{0, 3, 0}, {}, {}, 2).status(), {"mm_token_type_ids[1] = 3"});
  ExpectError(GetRopeIndex(Ids{}, {}, {}, 2).status(), {"no tokens"});
  ExpectError(GetRopeIndex(Ids{1, 1}, std::vector<MmGrid>{{1, 3, 2}}, {}, 2).status(),
              {"image 0", "multiples of spatial_merge_size 2"});
}

TEST(CheckMmTokenTypesTest, TypesMustAgreeWithIds) {
  EXPECT_TRUE(CheckMmTokenTypes(Ids{1, 9, 8}, Ids{0, 1, 2}, 9, 8).ok());
  ExpectError(CheckMmTokenTypes(Ids{1, 9, 8}, Ids{0, 1, 0}, 9, 8),
              {"mm_token_type_ids[2] = 0", "implies 2"});
  ExpectError(CheckMmTokenTypes(Ids{1, 9}, Ids{0}, 9, 8), {"1 entries for 2"});
}

// ---- Placeholder expansion ----

constexpr int64_t kImg = 90, kVid = 91, kVs = 92, kVe = 93;
const PlaceholderTokens kTokens{.image_token_id = kImg,
                                .video_token_id = kVid,
                                .vision_start_token_id = kVs,
                                .vision_end_token_id = kVe};

TEST(ExpandPlaceholdersTest, ImageBecomesMergedTokenCount) {
  auto e = ExpandPlaceholders(Ids{1, kVs, kImg, kVe, kVs, kImg, kVe},
                              std::vector<MmGrid>{{1, 4, 6}, {1, 2, 2}}, {}, kTokens, {});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->input_ids, (Ids{1, kVs, kImg, kImg, kImg, kImg, kImg, kImg, kVe, kVs, kImg, kVe}));
  EXPECT_EQ(e->mm_token_type_ids, (Ids{0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0}));
}

TEST(ExpandPlaceholdersTest, VideoKeepsOuterWrapperByDefault) {
  // transformers >= 5.10: per group "<ts>" <vs> pads <ve>, inside the template's <vs> ... <ve>.
  const VideoPrompt video{.grid = {2, 4, 2}, .timestamp_tokens = {{70, 71}, {72}}};
  auto e = ExpandPlaceholders(Ids{5, kVs, kVid, kVe, 6}, {}, std::vector<VideoPrompt>{video},
                              kTokens, {});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->input_ids,
            (Ids{5, kVs, 70, 71, kVs, kVid, kVid, kVe, 72, kVs, kVid, kVid, kVe, kVe, 6}));
  EXPECT_EQ(e->mm_token_type_ids, (Ids{0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 2, 2, 0, 0, 0}));
}

TEST(ExpandPlaceholdersTest, VideoReplaceTripleDropsTheOuterWrapper) {
  const VideoPrompt video{.grid = {2, 4, 2}, .timestamp_tokens = {{70, 71}, {72}}};
  auto e = ExpandPlaceholders(Ids{5, kVs, kVid, kVe, 6}, {}, std::vector<VideoPrompt>{video},
                              kTokens, {.video_wrapper = VideoWrapper::kReplaceTriple});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->input_ids, (Ids{5, 70, 71, kVs, kVid, kVid, kVe, 72, kVs, kVid, kVid, kVe, 6}));
  // Both layouts give valid positions: the wrappers are text tokens.
  auto p = GetRopeIndex(e->mm_token_type_ids, {}, std::vector<MmGrid>{video.grid}, 2);
  ASSERT_TRUE(p.ok()) << p.status();
  // Each group is 2x1 merged tokens (pH = p, p+1; pW = p) and advances p by max(2, 1) = 2.
  EXPECT_EQ(Row(*p, 0), (Ids{0, 1, 2, 3, 4, 4, 6, 7, 8, 9, 9, 11, 12}));
  EXPECT_EQ(Row(*p, 1), (Ids{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(Row(*p, 2), (Ids{0, 1, 2, 3, 4, 4, 6, 7, 8, 9, 9, 11, 12}));
  EXPECT_EQ(p->rope_delta, 0);
}

TEST(ExpandPlaceholdersTest, RejectsMismatches) {
  const VideoPrompt video{.grid = {2, 4, 2}, .timestamp_tokens = {{70}, {72}}};
  ExpectError(
      ExpandPlaceholders(Ids{kImg, kImg}, std::vector<MmGrid>{{1, 2, 2}}, {}, kTokens, {}).status(),
      {"2 image and 0 video placeholders for 1 images"});
  ExpectError(
      ExpandPlaceholders(Ids{kVid}, {},
                         std::vector<VideoPrompt>{{.grid = {3, 2, 2}, .timestamp_tokens = {{1}}}},
                         kTokens, {})
          .status(),
      {"1 timestamp token lists for 3 temporal groups"});
  ExpectError(ExpandPlaceholders(Ids{1, kVid, kVe}, {}, std::vector<VideoPrompt>{video}, kTokens,
                                 {.video_wrapper = VideoWrapper::kReplaceTriple})
                  .status(),
              {"not wrapped"});
  const VideoPrompt bad_ts{.grid = {1, 2, 2}, .timestamp_tokens = {{kImg}}};
  ExpectError(
      ExpandPlaceholders(Ids{kVid}, {}, std::vector<VideoPrompt>{bad_ts}, kTokens, {}).status(),
      {"placeholder id 90"});
  ExpectError(
      ExpandPlaceholders(Ids{kImg}, std::vector<MmGrid>{{1, 2, 5}}, {}, kTokens, {}).status(),
      {"image 0"});
}

TEST(TimestampTest, FormatsLikePythonOneDecimal) {
  // Python f"<{x:.1f} seconds>" rounds the exact binary value half-to-even.
  EXPECT_EQ(FormatTimestamp(0.25), "<0.2 seconds>");
  EXPECT_EQ(FormatTimestamp(0.75), "<0.8 seconds>");
  EXPECT_EQ(FormatTimestamp(1.05), "<1.1 seconds>");
  EXPECT_EQ(FormatTimestamp(0.35), "<0.3 seconds>");
  EXPECT_EQ(FormatTimestamp(12.0), "<12.0 seconds>");
}

TEST(TimestampTest, GroupTimestampsAverageEachTemporalPair) {
  EXPECT_EQ(GroupTimestamps(Ids{0, 12, 24, 36, 48, 60}, 24.0, 2),
            (std::vector<double>{0.25, 1.25, 2.25}));
  // 7 frames: the last index is repeated to fill the last group.
  const std::vector<double> ts = GroupTimestamps(Ids{0, 10, 20, 30, 40, 50, 60}, 30.0, 2);
  ASSERT_EQ(ts.size(), 4u);
  EXPECT_DOUBLE_EQ(ts[0], (0.0 / 30 + 10.0 / 30) / 2);
  EXPECT_DOUBLE_EQ(ts[3], 2.0);
  EXPECT_TRUE(GroupTimestamps(Ids{}, 24.0, 2).empty());
}

}  // namespace
}  // namespace qwen::text

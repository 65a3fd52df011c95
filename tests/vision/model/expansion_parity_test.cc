// The `placeholder_expansion` case: a prompt tokenised and expanded by transformers' real
// Qwen3VLProcessor (two images and a video with timestamps). ExpandPlaceholders, FormatTimestamp,
// GroupTimestamps and GetRopeIndex must reproduce its ids, token types, timestamp text and
// positions exactly.
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/vision/model/multimodal_cases.h"
#include "text_service/model/mrope_positions.h"

namespace qwen::testing {
namespace {

using nlohmann::json;

std::vector<text::MmGrid> Grids(const json& rows) {
  std::vector<text::MmGrid> out;
  for (const json& r : rows)
    out.push_back({r[0].get<int64_t>(), r[1].get<int64_t>(), r[2].get<int64_t>()});
  return out;
}

class ExpansionParityTest : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(ExpansionParityTest, MatchesQwen3VLProcessor) {
  std::ifstream in(GetParam() / "expansion.json");
  ASSERT_TRUE(in.good());
  const json j = json::parse(in);
  const json& ids = j["token_ids"];
  const text::PlaceholderTokens tokens{
      .image_token_id = ids["image_token_id"].get<int64_t>(),
      .video_token_id = ids["video_token_id"].get<int64_t>(),
      .vision_start_token_id = ids["vision_start_token_id"].get<int64_t>(),
      .vision_end_token_id = ids["vision_end_token_id"].get<int64_t>()};
  const std::string wrapper = j["wrapper"].get<std::string>();
  ASSERT_TRUE(wrapper == "keep_outer" || wrapper == "replace_triple") << wrapper;

  const std::vector<double> ts = text::GroupTimestamps(
      j["frame_indices"].get<std::vector<int64_t>>(), j["fps"].get<double>(), 2);
  const std::vector<double> want_ts = j["timestamps"].get<std::vector<double>>();
  ASSERT_EQ(ts.size(), want_ts.size());
  for (size_t g = 0; g < ts.size(); ++g) {
    EXPECT_DOUBLE_EQ(ts[g], want_ts[g]);
    EXPECT_EQ(text::FormatTimestamp(ts[g]), j["timestamp_text"][g].get<std::string>());
  }

  const std::vector<text::MmGrid> images = Grids(j["image_grid_thw"]);
  const std::vector<text::MmGrid> video_grids = Grids(j["video_grid_thw"]);
  ASSERT_EQ(video_grids.size(), 1u);
  const text::VideoPrompt video{
      .grid = video_grids[0],
      .timestamp_tokens = j["timestamp_tokens"].get<std::vector<std::vector<int64_t>>>()};
  auto e = text::ExpandPlaceholders(
      j["prompt_ids"].get<std::vector<int64_t>>(), images, std::vector<text::VideoPrompt>{video},
      tokens,
      {.spatial_merge_size = 2,
       .video_wrapper = wrapper == "keep_outer" ? text::VideoWrapper::kKeepOuter
                                                : text::VideoWrapper::kReplaceTriple});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->input_ids, j["input_ids"].get<std::vector<int64_t>>());
  EXPECT_EQ(e->mm_token_type_ids, j["mm_token_type_ids"].get<std::vector<int64_t>>());

  auto p = text::GetRopeIndex(e->mm_token_type_ids, images, video_grids, 2);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<int64_t> want_pos;
  for (const json& row : j["position_ids"]) {
    for (const json& v : row) want_pos.push_back(v.get<int64_t>());
  }
  EXPECT_EQ(p->positions, want_pos);
  EXPECT_EQ(p->rope_delta, j["rope_delta"].get<int64_t>());
}

INSTANTIATE_TEST_SUITE_P(Reference, ExpansionParityTest,
                         ::testing::ValuesIn(FindMultimodalCases({"placeholder_expansion"})),
                         CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ExpansionParityTest);

}  // namespace
}  // namespace qwen::testing

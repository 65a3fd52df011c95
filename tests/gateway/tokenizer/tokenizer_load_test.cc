// Loading: malformed or unsupported tokenizer.json / tokenizer_config.json files give clear
// errors (never a crash), and both merge serializations load.
#include <random>
#include <string>
#include <vector>

#include "gateway/tokenizer/byte_level.h"
#include "gateway/tokenizer/pretokenizer.h"
#include "gateway/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "tests/gateway/tokenizer/test_util.h"

namespace qwen::gateway {
namespace {

using Json = nlohmann::json;

// A tiny valid Qwen3.5-style tokenizer: 256 byte tokens, merges for "he", "hel", "hell",
// "hello", "Ġw", and two added tokens.
Json MinimalTokenizer() {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[BytesToByteLevel(std::string(1, static_cast<char>(b)))] = b;
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"he", "l"}, {"hel", "l"}, {"hell", "o"}, {"\u0120", "w"}};
  Json merge_list = Json::array();
  int id = 256;
  for (const auto& [a, b] : merges) {
    vocab[a + b] = id++;
    merge_list.push_back(Json::array({a, b}));
  }
  const Json byte_level = {{"type", "ByteLevel"},
                           {"add_prefix_space", false},
                           {"trim_offsets", false},
                           {"use_regex", false}};
  auto added = [](int token_id, const char* content, bool special) {
    Json t = Json::object();
    t["id"] = token_id;
    t["content"] = content;
    t["special"] = special;
    t["normalized"] = false;
    t["lstrip"] = false;
    t["rstrip"] = false;
    t["single_word"] = false;
    return t;
  };
  Json split = Json::object();
  split["type"] = "Split";
  split["pattern"]["Regex"] = std::string(kQwen35PretokenizeRegex);
  split["behavior"] = "Isolated";
  split["invert"] = false;
  Json j = Json::object();
  j["version"] = "1.0";
  j["added_tokens"] =
      Json::array({added(id, "<|endoftext|>", true), added(id + 1, "<think>", false)});
  j["normalizer"]["type"] = "NFC";
  j["pre_tokenizer"]["type"] = "Sequence";
  j["pre_tokenizer"]["pretokenizers"] = Json::array({split, byte_level});
  j["post_processor"] = byte_level;
  j["decoder"] = byte_level;
  Json& model = j["model"];
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = nullptr;
  model["continuing_subword_prefix"] = "";
  model["end_of_word_suffix"] = "";
  model["fuse_unk"] = false;
  model["byte_fallback"] = false;
  model["ignore_merges"] = false;
  model["vocab"] = vocab;
  model["merges"] = merge_list;
  return j;
}

absl::Status LoadStatus(const Json& j, const std::string& config = "") {
  return Tokenizer::FromJson(j.dump(), config).status();
}

// Expects `status` to have `code` and a message containing `needle`.
void ExpectError(const absl::Status& status, absl::StatusCode code, const std::string& needle) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_NE(std::string(status.message()).find(needle), std::string::npos)
      << "message: " << status.message() << "\nwanted: " << needle;
}

TEST(TokenizerLoadTest, MinimalLoadsAndEncodes) {
  absl::StatusOr<Tokenizer> tok = Tokenizer::FromJson(MinimalTokenizer().dump());
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(*tok->Encode("hello world<think>"),
            (std::vector<int32_t>{259, 260, 'o', 'r', 'l', 'd', 262}));
  EXPECT_EQ(tok->merge_count(), 5u);
  EXPECT_EQ(tok->id_limit(), 263);
}

TEST(TokenizerLoadTest, LegacyStringMergesLoadTheSame) {
  Json j = MinimalTokenizer();
  Json merges = Json::array();
  for (const Json& m : j["model"]["merges"]) {
    merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
  }
  j["model"]["merges"] = merges;
  absl::StatusOr<Tokenizer> tok = Tokenizer::FromJson(j.dump());
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(*tok->Encode("hello world"), (std::vector<int32_t>{259, 260, 'o', 'r', 'l', 'd'}));
}

TEST(TokenizerLoadTest, MalformedFilesGiveClearErrors) {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  ExpectError(Tokenizer::FromJson("{not json").status(), kInvalid, "not valid JSON");
  ExpectError(Tokenizer::FromJson("").status(), kInvalid, "not valid JSON");
  ExpectError(Tokenizer::FromJson("[1, 2]").status(), kInvalid, "top level must be an object");
  Json j = MinimalTokenizer();
  j.erase("model");
  ExpectError(LoadStatus(j), kInvalid, "\"model\"");

  j = MinimalTokenizer();
  j["model"]["merges"] = Json::array();
  ExpectError(LoadStatus(j), kInvalid, "model.merges is empty");
  j["model"].erase("merges");
  ExpectError(LoadStatus(j), kInvalid, "model.merges must be an array");

  j = MinimalTokenizer();
  j["model"]["vocab"] = Json::array();
  ExpectError(LoadStatus(j), kInvalid, "model.vocab must be an object");
  j["model"]["vocab"] = Json::object();
  ExpectError(LoadStatus(j), kInvalid, "model.vocab is empty");

  j = MinimalTokenizer();
  j["model"]["vocab"]["h"] = "seven";
  ExpectError(LoadStatus(j), kInvalid, "model.vocab[\"h\"] must be a non-negative integer id");
  j = MinimalTokenizer();
  j["model"]["vocab"]["h"] = -3;
  ExpectError(LoadStatus(j), kInvalid, "non-negative");
  j = MinimalTokenizer();
  j["model"]["vocab"]["h"] = 0;  // duplicate id
  ExpectError(LoadStatus(j), kInvalid, "id 0 is used twice");

  j = MinimalTokenizer();
  j["model"]["merges"].push_back("abc");
  ExpectError(LoadStatus(j), kInvalid, "model.merges[5] = \"abc\" must be two tokens");
  j["model"]["merges"].back() = Json::array({"a"});
  ExpectError(LoadStatus(j), kInvalid, "model.merges[5]");
  j["model"]["merges"].back() = 17;
  ExpectError(LoadStatus(j), kInvalid, "must be \"a b\" or [\"a\", \"b\"]");
  j["model"]["merges"].back() = Json::array({"x", "y"});  // "xy" is not a token
  ExpectError(LoadStatus(j), kInvalid, "merge 5 ('x' + 'y'): token 'xy' is not in the vocabulary");
  j["model"]["merges"].back() = Json::array({"\u0120", "zz"});
  ExpectError(LoadStatus(j), kInvalid, "token 'zz' is not in the vocabulary");

  j = MinimalTokenizer();
  j["added_tokens"][0].erase("content");
  ExpectError(LoadStatus(j), kInvalid, "added_tokens[0].content must be a non-empty string");
  j = MinimalTokenizer();
  j["added_tokens"][1]["special"] = "yes";
  ExpectError(LoadStatus(j), kInvalid, "added_tokens[1].special must be true or false");
  j = MinimalTokenizer();
  j["added_tokens"][1]["id"] = 999;
  ExpectError(LoadStatus(j), kInvalid,
              "declares id 999 but Hugging Face tokenizers assigns it id 262");
  j = MinimalTokenizer();
  j["added_tokens"][1]["content"] = "<|endoftext|>";
  ExpectError(LoadStatus(j), kInvalid, "is defined twice");
  j = MinimalTokenizer();
  j["added_tokens"] = "none";
  ExpectError(LoadStatus(j), kInvalid, "added_tokens must be an array");
}

// Truncated or corrupted files fail with a status (run under QWEN_SANITIZE to check memory).
TEST(TokenizerLoadTest, TruncatedAndCorruptedFilesNeverCrash) {
  const std::string text = MinimalTokenizer().dump();
  for (size_t n = 0; n < text.size(); n += 3) {
    EXPECT_FALSE(Tokenizer::FromJson(text.substr(0, n)).ok()) << n;
  }
  std::mt19937 rng(3);
  int loaded = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string corrupt = text;
    for (int k = 0; k < 3; ++k) corrupt[rng() % corrupt.size()] = static_cast<char>(rng() % 256);
    absl::StatusOr<Tokenizer> tok = Tokenizer::FromJson(corrupt);
    if (tok.ok()) {
      ++loaded;  // a harmless change (e.g. inside a token): it must still work
      EXPECT_TRUE(tok->Encode("hello world").ok());
    } else {
      EXPECT_FALSE(tok.status().message().empty());
    }
  }
  EXPECT_LT(loaded, 300);
}

TEST(TokenizerLoadTest, UnsupportedPipelinesAreRefused) {
  const auto kUnimplemented = absl::StatusCode::kUnimplemented;
  Json j = MinimalTokenizer();
  j["normalizer"] = {{"type", "NFKC"}};
  ExpectError(LoadStatus(j), kUnimplemented, "normalizer 'NFKC'");
  j = MinimalTokenizer();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
  ExpectError(LoadStatus(j), kUnimplemented, "is not one of the Qwen patterns");
  j = MinimalTokenizer();
  j["pre_tokenizer"]["pretokenizers"][1]["use_regex"] = true;
  ExpectError(LoadStatus(j), kUnimplemented, "use_regex = true");
  j = MinimalTokenizer();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  ExpectError(LoadStatus(j), kUnimplemented, "pre_tokenizer 'Whitespace'");
  j = MinimalTokenizer();
  j["decoder"] = {{"type", "WordPiece"}};
  ExpectError(LoadStatus(j), kUnimplemented, "decoder 'WordPiece'");
  j = MinimalTokenizer();
  j["post_processor"] = {{"type", "TemplateProcessing"}};
  ExpectError(LoadStatus(j), kUnimplemented, "post_processor 'TemplateProcessing'");
  j = MinimalTokenizer();
  j["model"]["type"] = "WordPiece";
  ExpectError(LoadStatus(j), kUnimplemented, "model type 'WordPiece'");
  j = MinimalTokenizer();
  j["model"]["byte_fallback"] = true;
  ExpectError(LoadStatus(j), kUnimplemented, "byte_fallback");
  j = MinimalTokenizer();
  j["model"]["dropout"] = 0.1;
  ExpectError(LoadStatus(j), kUnimplemented, "dropout");
}

TEST(TokenizerLoadTest, TokenizerConfig) {
  const Json j = MinimalTokenizer();
  ExpectError(LoadStatus(j, "{oops"), absl::StatusCode::kInvalidArgument,
              "tokenizer_config.json: not a valid JSON object");
  ExpectError(LoadStatus(j, R"({"added_tokens_decoder": {"abc": {"content": "x"}}})"),
              absl::StatusCode::kInvalidArgument, "the key must be a token id");
  ExpectError(LoadStatus(j, R"({"added_tokens_decoder": {"262": {"content": "<|endoftext|>"}}})"),
              absl::StatusCode::kInvalidArgument, "but tokenizer.json gives it id 261");
  ExpectError(LoadStatus(j, R"({"added_tokens_decoder": {"300": {"content": "<x>"}}})"),
              absl::StatusCode::kInvalidArgument, "declares id 300");
  absl::StatusOr<Tokenizer> tok = Tokenizer::FromJson(j.dump(), R"({"added_tokens_decoder": {
          "261": {"content": "<|endoftext|>", "special": true},
          "264": {"content": "<|audio_pad|>", "special": true, "normalized": false},
          "263": {"content": "<tts_pad>", "special": true, "normalized": false}}})");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(*tok->TokenToId("<tts_pad>"), 263);
  EXPECT_EQ(*tok->Encode("<|audio_pad|>he"), (std::vector<int32_t>{264, 256}));
  EXPECT_EQ(*tok->Decode(std::vector<int32_t>{264, 256}, true), "he");
}

TEST(TokenizerLoadTest, FileErrors) {
  absl::StatusOr<Tokenizer> missing = Tokenizer::FromFile("/nonexistent/tokenizer.json");
  ExpectError(missing.status(), absl::StatusCode::kNotFound, "/nonexistent/tokenizer.json");
  const std::string dir = testing::SourcePath("tests/reference/tokenizer_qwen35_small");
  ExpectError(Tokenizer::FromFile(dir + "/tokenizer.json", {.tokenizer_config_path = "/nope.json",
                                                            .ignore_tokenizer_config = false})
                  .status(),
              absl::StatusCode::kNotFound, "/nope.json");
  // A file that is not a tokenizer names the path and the problem.
  ExpectError(Tokenizer::FromFile(dir + "/case.json").status(), absl::StatusCode::kInvalidArgument,
              "case.json: tokenizer.json: missing the \"model\"");
}

}  // namespace
}  // namespace qwen::gateway

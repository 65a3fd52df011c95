// Loading config.json / generation_config.json from disk, and generation config parsing.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qwen::core {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

class ConfigFileTest : public testing::Test {
 protected:
  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / absl::StrCat("qwen_core_cfg_", getpid(), "_", info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  fs::path dir_;
};

TEST_F(ConfigFileTest, LoadModelConfigFromDirectoryOrFile) {
  Write("config.json", R"({"architectures": ["Qwen3_5ForCausalLM"], "hidden_size": 1024})");
  for (const fs::path& p : {dir_, dir_ / "config.json"}) {
    absl::StatusOr<ModelConfig> c = LoadModelConfig(p);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->text.hidden_size, 1024);
    EXPECT_EQ(c->text_weight_prefix, "model.");
  }
}

TEST_F(ConfigFileTest, LoadModelConfigErrorsNameThePath) {
  absl::StatusOr<ModelConfig> missing = LoadModelConfig(dir_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr((dir_ / "config.json").string()));
  Write("config.json", "{\"hidden_size\": ");
  absl::StatusOr<ModelConfig> bad = LoadModelConfig(dir_);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr((dir_ / "config.json").string()));
}

TEST(GenerationConfigTest, ParsesShippedValues) {
  absl::StatusOr<GenerationConfig> g = ParseGenerationConfig(
      R"({"bos_token_id": 248044, "eos_token_id": [248046, 248044], "pad_token_id": 248044,
          "do_sample": true, "temperature": 1.0, "top_k": 20, "top_p": 0.95, "min_p": 0.0,
          "repetition_penalty": 1.05, "max_new_tokens": 2048,
          "transformers_version": "4.57.0.dev0"})",
      "generation_config.json");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->eos_token_ids, (std::vector<int64_t>{248046, 248044}));
  EXPECT_EQ(g->pad_token_id, 248044);
  EXPECT_EQ(g->bos_token_id, 248044);
  EXPECT_TRUE(g->do_sample);
  EXPECT_DOUBLE_EQ(g->temperature, 1.0);
  EXPECT_EQ(g->top_k, 20);
  EXPECT_DOUBLE_EQ(g->top_p, 0.95);
  EXPECT_DOUBLE_EQ(g->repetition_penalty, 1.05);
  EXPECT_EQ(g->max_new_tokens, 2048);
}

TEST(GenerationConfigTest, SingleEosAndNulls) {
  absl::StatusOr<GenerationConfig> g =
      ParseGenerationConfig(R"({"eos_token_id": 7, "pad_token_id": null})", "g.json");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->eos_token_ids, (std::vector<int64_t>{7}));
  EXPECT_FALSE(g->pad_token_id.has_value());
  EXPECT_FALSE(g->do_sample);
  EXPECT_EQ(g->top_k, 0);
  EXPECT_FALSE(g->max_new_tokens.has_value());
}

TEST(GenerationConfigTest, RejectsWrongTypesAndRanges) {
  for (const auto& [text, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"top_k": "20"})", "top_k"},
           {R"({"eos_token_id": [1, "2"]})", "eos_token_id"},
           {R"({"do_sample": 1})", "do_sample"},
           {R"({"top_p": 1.5})", "top_p"},
           {R"({"temperature": -1})", "temperature"},
           {R"({"max_new_tokens": 0})", "max_new_tokens"},
           {R"([])", "object"}}) {
    absl::StatusOr<GenerationConfig> g = ParseGenerationConfig(text, "gen.json");
    ASSERT_FALSE(g.ok()) << text;
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(g.status().message()), HasSubstr("gen.json"));
    EXPECT_THAT(std::string(g.status().message()), HasSubstr(field));
  }
}

TEST_F(ConfigFileTest, LoadGenerationConfigMissingFileGivesDefaults) {
  absl::StatusOr<GenerationConfig> g = LoadGenerationConfig(dir_);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->eos_token_ids.empty());
  EXPECT_DOUBLE_EQ(g->temperature, 1.0);
  EXPECT_FALSE(LoadGenerationConfig(dir_ / "absent_dir").ok());
}

TEST_F(ConfigFileTest, LoadGenerationConfigMalformedFileIsAnError) {
  Write("generation_config.json", "{\"eos_token_id\": [1,");
  absl::StatusOr<GenerationConfig> g = LoadGenerationConfig(dir_);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(g.status().message()),
              HasSubstr((dir_ / "generation_config.json").string()));
  Write("generation_config.json", R"({"eos_token_id": [248046], "top_k": 20})");
  g = LoadGenerationConfig(dir_);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->top_k, 20);
}

}  // namespace
}  // namespace qwen::core

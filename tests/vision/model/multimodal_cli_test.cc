// `qwen35 forward` on multimodal inputs that are incomplete or inconsistent: exit code 1 (with the
// reason on stderr), never a crash; and mm_token_type_ids is optional (derived from the ids).
// Runs on the committed multimodal cases (their model and inputs, edited).
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/safetensors.h"
#include "gtest/gtest.h"
#include "tests/vision/model/multimodal_cases.h"
#include "tools/qwen35/commands.h"

namespace qwen::testing {
namespace {

class MultimodalCliTest : public ::testing::TestWithParam<std::filesystem::path> {
 protected:
  void SetUp() override {
    dir_ = GetParam();
    tmp_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("qwen_mm_cli_", dir_.filename().string(), "_", getpid());
    std::filesystem::create_directories(tmp_);
    auto f = core::SafetensorsFile::Open(dir_ / "inputs.safetensors");
    ASSERT_TRUE(f.ok()) << f.status();
    for (const auto& [name, info] : (*f)->tensors())
      inputs_[name] = ReadCaseTensor(dir_ / "inputs.safetensors", name);
  }
  void TearDown() override { std::filesystem::remove_all(tmp_); }

  // Writes `inputs` and runs forward on them; returns the exit code.
  int Run(const std::map<std::string, core::Tensor>& inputs, const std::string& tag) {
    const std::filesystem::path in = tmp_ / (tag + ".in.safetensors");
    EXPECT_TRUE(core::WriteSafetensors(in, inputs).ok());
    std::vector<std::string> args = {"forward",
                                     "--model",
                                     (dir_ / "model").string(),
                                     "--inputs",
                                     in.string(),
                                     "--out",
                                     (tmp_ / (tag + ".out.safetensors")).string()};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    return tools::RunForward(static_cast<int>(argv.size()), argv.data());
  }

  std::filesystem::path dir_, tmp_;
  std::map<std::string, core::Tensor> inputs_;
};

TEST_P(MultimodalCliTest, TokenTypesAreOptional) {
  std::map<std::string, core::Tensor> without = inputs_;
  without.erase("mm_token_type_ids");
  ASSERT_EQ(Run(without, "derived"), 0);
  EXPECT_EQ(ReadIds(tmp_ / "derived.out.safetensors", "position_ids"),
            ReadIds(dir_ / "expected.safetensors", "position_ids"));
  EXPECT_EQ(ReadIds(tmp_ / "derived.out.safetensors", "rope_delta"),
            ReadIds(dir_ / "expected.safetensors", "rope_delta"));
}

TEST_P(MultimodalCliTest, InconsistentInputsFail) {
  const bool has_images = inputs_.count("pixel_values") != 0;
  const std::string pixels = has_images ? "pixel_values" : "pixel_values_videos";
  const std::string grid = has_images ? "image_grid_thw" : "video_grid_thw";
  {
    std::map<std::string, core::Tensor> in = inputs_;
    in.erase(grid);  // pixels without their grid
    EXPECT_EQ(Run(in, "no_grid"), 1);
  }
  {
    // Token types disagreeing with the placeholder ids.
    std::map<std::string, core::Tensor> in = inputs_;
    core::Tensor types = in.at("mm_token_type_ids").Clone();
    types.data<int64_t>()[0] = 1;
    in["mm_token_type_ids"] = types;
    EXPECT_EQ(Run(in, "types"), 1);
  }
  {
    // One placeholder token turned into text: features and tokens no longer match.
    std::map<std::string, core::Tensor> in = inputs_;
    core::Tensor ids = in.at("input_ids").Clone();
    core::Tensor types = in.at("mm_token_type_ids").Clone();
    for (int64_t i = 0; i < ids.numel(); ++i) {
      if (types.data<int64_t>()[i] != 0) {
        ids.data<int64_t>()[i] = 0;
        types.data<int64_t>()[i] = 0;
        break;
      }
    }
    in["input_ids"] = ids;
    in["mm_token_type_ids"] = types;
    EXPECT_EQ(Run(in, "count"), 1);
  }
  {
    // A grid row that does not cover the pixel rows.
    std::map<std::string, core::Tensor> in = inputs_;
    core::Tensor g = in.at(grid).Clone();
    g.data<int64_t>()[2] += 2;
    in[grid] = g;
    EXPECT_EQ(Run(in, "grid"), 1);
  }
  {
    std::map<std::string, core::Tensor> in = inputs_;
    in[pixels] = in.at(pixels).Reshaped({1, in.at(pixels).numel()});
    EXPECT_EQ(Run(in, "pixels"), 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, MultimodalCliTest,
                         ::testing::ValuesIn(FindMultimodalCases({"multimodal"})), CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MultimodalCliTest);

}  // namespace
}  // namespace qwen::testing

// Parity of the whole multimodal prefill + greedy decode with Hugging Face transformers on every
// committed `multimodal` case, through the `qwen35 forward` command itself: vision embeddings and
// logits within 1e-3 of their scale, position ids and rope delta exact, identical greedy ids.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/vision/model/multimodal_cases.h"
#include "tools/qwen35/commands.h"

namespace qwen::testing {
namespace {

constexpr float kRelTolerance = 1e-3f;

int RunForwardCommand(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return tools::RunForward(static_cast<int>(argv.size()), argv.data());
}

void ExpectClose(const std::filesystem::path& got_file, const std::filesystem::path& want_file,
                 const std::string& name, float scale) {
  const core::Tensor got = ReadCaseTensor(got_file, name);
  const core::Tensor want = ReadCaseTensor(want_file, name);
  ASSERT_EQ(got.shape(), want.shape()) << name;
  EXPECT_LE(MaxAbsDiff(got.data<float>(), want.data<float>(), want.numel()), kRelTolerance * scale)
      << name << ", scale " << scale;
}

class MultimodalParityTest : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(MultimodalParityTest, ForwardCommandMatchesTransformers) {
  const std::filesystem::path dir = GetParam();
  const std::filesystem::path expected = dir / "expected.safetensors";
  const std::filesystem::path out =
      std::filesystem::path(::testing::TempDir()) /
      absl::StrCat("qwen_mm_parity_", dir.filename().string(), "_", getpid(), ".safetensors");
  const std::vector<int64_t> greedy = ReadIds(expected, "greedy_ids");
  ASSERT_FALSE(greedy.empty());
  ASSERT_EQ(RunForwardCommand({"forward", "--model", (dir / "model").string(), "--inputs",
                               (dir / "inputs.safetensors").string(), "--out", out.string(),
                               "--greedy", std::to_string(greedy.size())}),
            0);

  auto got = core::SafetensorsFile::Open(out);
  ASSERT_TRUE(got.ok()) << got.status();
  for (const char* name : {"image_embeds", "video_embeds"}) {
    auto want = core::SafetensorsFile::Open(expected);
    ASSERT_TRUE(want.ok());
    ASSERT_EQ((*got)->Has(name), (*want)->Has(name)) << name;
    if (!(*want)->Has(name)) continue;
    const core::Tensor w = ReadCaseTensor(expected, name);
    ExpectClose(out, expected, name, MaxAbs(w.data<float>(), w.numel()));
  }
  EXPECT_EQ(ReadIds(out, "position_ids"), ReadIds(expected, "position_ids"));
  EXPECT_EQ(ReadCaseTensor(out, "position_ids").shape(),
            ReadCaseTensor(expected, "position_ids").shape());
  EXPECT_EQ(ReadIds(out, "rope_delta"), ReadIds(expected, "rope_delta"));
  const core::Tensor logits = ReadCaseTensor(expected, "logits");
  const float scale = MaxAbs(logits.data<float>(), logits.numel());
  ExpectClose(out, expected, "logits", scale);
  EXPECT_EQ(ReadIds(out, "greedy_ids"), greedy);
  ExpectClose(out, expected, "step_logits", scale);
  std::filesystem::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Reference, MultimodalParityTest,
                         ::testing::ValuesIn(FindMultimodalCases({"multimodal"})), CaseName);
// Until the reference cases are committed the list above is empty.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MultimodalParityTest);

}  // namespace
}  // namespace qwen::testing

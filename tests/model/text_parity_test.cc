// Parity of the CPU text decoder with Hugging Face transformers on every committed `text` case:
// prefill logits within 1e-3 of the logits' scale, identical greedy ids, and the step logits of
// the cached decode within the same tolerance (shared/REFERENCE_CASES.md).
#include <filesystem>

#include "gtest/gtest.h"
#include "tests/model/reference_case.h"
#include "text_service/model/text_model.h"
#include "tools/qwen35/greedy_decode.h"

namespace qwen::testing {
namespace {

constexpr float kRelTolerance = 1e-3f;

class TextParityTest : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(TextParityTest, MatchesTransformers) {
  const std::filesystem::path dir = GetParam();
  auto model = text::TextModel::Load(dir / "model");
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<int64_t> prompt = ReadIds(dir / "inputs.safetensors", "input_ids");
  core::Tensor logits = ReadCaseTensor(dir / "expected.safetensors", "logits");
  core::Tensor step_logits = ReadCaseTensor(dir / "expected.safetensors", "step_logits");
  std::vector<int64_t> greedy = ReadIds(dir / "expected.safetensors", "greedy_ids");
  ASSERT_FALSE(prompt.empty());
  ASSERT_EQ(logits.dim(0), static_cast<int64_t>(prompt.size()));

  tools::GreedyOptions opts{.max_new_tokens = static_cast<int64_t>(greedy.size()),
                            .keep_prefill_logits = true, .keep_step_logits = true};
  auto result = tools::GreedyDecode(**model, prompt, opts);
  ASSERT_TRUE(result.ok()) << result.status();

  const float scale = MaxAbs(logits.data<float>(), logits.numel());
  ASSERT_EQ(result->prefill_logits.numel(), logits.numel());
  EXPECT_LE(MaxAbsDiff(result->prefill_logits.data<float>(), logits.data<float>(), logits.numel()),
            kRelTolerance * scale)
      << "prefill logits, scale " << scale;
  EXPECT_EQ(result->ids, greedy);
  ASSERT_EQ(static_cast<int64_t>(result->step_logits.size()), step_logits.numel());
  EXPECT_LE(MaxAbsDiff(result->step_logits.data(), step_logits.data<float>(), step_logits.numel()),
            kRelTolerance * scale)
      << "step logits";
}

std::string CaseName(const ::testing::TestParamInfo<std::filesystem::path>& info) {
  return info.param.filename().string();
}

INSTANTIATE_TEST_SUITE_P(Reference, TextParityTest, ::testing::ValuesIn(FindCases("text_")),
                         CaseName);

TEST(TextParityCases, AtLeastThreeCasesAreCommitted) { EXPECT_GE(FindCases("text_").size(), 3u); }

}  // namespace
}  // namespace qwen::testing

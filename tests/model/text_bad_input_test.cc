// Bad batches and broken checkpoints get precise errors, and a rejected batch changes no state.
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/model/reference_case.h"
#include "text_service/model/text_model.h"

namespace qwen::testing {
namespace {

using ::testing::HasSubstr;
using text::ForwardBatch;
using text::SequenceSpan;
using text::SequenceState;
using text::TextModel;

const std::filesystem::path kModel = ReferenceRoot() / "text_causal_tied_hv1" / "model";

class ScratchDir {
 public:
  ScratchDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("qwen_model_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Copies the reference model into `dir`, letting the caller edit the config and the tensors.
void WriteModifiedModel(const std::filesystem::path& dir,
                        const std::function<void(nlohmann::json&)>& edit_config,
                        const std::function<void(std::map<std::string, core::Tensor>&)>& edit_tensors) {
  std::ifstream in(kModel / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  edit_config(config);
  std::ofstream(dir / "config.json") << config.dump(2);
  auto ckpt = core::Checkpoint::Open(kModel);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  std::map<std::string, core::Tensor> tensors;
  for (const std::string& name : ckpt->Names()) tensors[name] = ckpt->Get(name)->Clone();
  edit_tensors(tensors);
  ASSERT_TRUE(core::WriteSafetensors(dir / "model.safetensors", tensors).ok());
}

absl::Status RunTokens(const TextModel& model, SequenceState* state, std::vector<int64_t> ids) {
  ForwardBatch batch;
  batch.token_ids = ids;
  batch.sequences = {SequenceSpan{.begin = 0, .length = static_cast<int64_t>(ids.size()), .state = state}};
  std::vector<int64_t> pos = text::TextPositions(batch.sequences, static_cast<int64_t>(ids.size()));
  batch.positions = pos;
  return model.Forward({}, batch, text::LogitsMode::kLast).status();
}

TEST(TextBadInput, OutOfRangeTokenIsRejectedAndStateIsUntouched) {
  auto model = TextModel::Load(kModel);
  ASSERT_TRUE(model.ok()) << model.status();
  SequenceState state = (*model)->NewSequence();
  ASSERT_TRUE(RunTokens(**model, &state, {1, 2, 3}).ok());
  std::vector<float> recurrent_before = state.layer(0).recurrent;
  absl::Status s = RunTokens(**model, &state, {4, 512, 5});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("token id 512 at position 1"));
  s = RunTokens(**model, &state, {-1});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(state.num_tokens(), 3);
  EXPECT_EQ(state.layer(0).recurrent, recurrent_before);
  EXPECT_EQ(state.layer(3).k.size(), 3u * 2 * 32);  // layer 3 is full attention: 3 tokens cached
}

TEST(TextBadInput, MalformedBatchesAreRejected) {
  auto model = TextModel::Load(kModel);
  ASSERT_TRUE(model.ok()) << model.status();
  SequenceState a = (*model)->NewSequence(), b = (*model)->NewSequence();
  std::vector<int64_t> ids = {1, 2, 3, 4};
  std::vector<int64_t> pos(12, 0);
  ForwardBatch batch;
  batch.token_ids = ids;
  batch.positions = pos;

  EXPECT_THAT(std::string((*model)->Forward({}, ForwardBatch{}, text::LogitsMode::kLast).status().message()),
              HasSubstr("empty batch"));
  batch.sequences = {{0, 2, &a}, {3, 1, &b}};  // gap at row 2
  EXPECT_THAT(std::string((*model)->Forward({}, batch, text::LogitsMode::kLast).status().message()),
              HasSubstr("not the next contiguous span"));
  batch.sequences = {{0, 2, &a}, {2, 2, &a}};  // one state twice
  EXPECT_THAT(std::string((*model)->Forward({}, batch, text::LogitsMode::kLast).status().message()),
              HasSubstr("repeats a state"));
  batch.sequences = {{0, 3, &a}};  // row 3 uncovered
  EXPECT_THAT(std::string((*model)->Forward({}, batch, text::LogitsMode::kLast).status().message()),
              HasSubstr("cover 3 rows of a 4-token batch"));
  std::vector<int64_t> short_pos(4, 0);
  batch.positions = short_pos;
  batch.sequences = {{0, 4, &a}};
  EXPECT_THAT(std::string((*model)->Forward({}, batch, text::LogitsMode::kLast).status().message()),
              HasSubstr("positions has 4 entries"));
  EXPECT_EQ(a.num_tokens(), 0);
  EXPECT_EQ(b.num_tokens(), 0);
}

TEST(TextBadInput, ContextOverflowIsInvalidArgument) {
  ScratchDir dir;
  WriteModifiedModel(dir.path(), [](nlohmann::json& c) { c["max_position_embeddings"] = 8; },
                     [](auto&) {});
  auto model = TextModel::Load(dir.path());
  ASSERT_TRUE(model.ok()) << model.status();
  SequenceState state = (*model)->NewSequence();
  ASSERT_TRUE(RunTokens(**model, &state, {1, 2, 3, 4, 5, 6}).ok());
  absl::Status s = RunTokens(**model, &state, {7, 8, 9});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("over the model's context of 8"));
  EXPECT_TRUE(RunTokens(**model, &state, {7, 8}).ok());
}

TEST(TextBadInput, MissingTensorIsNamed) {
  ScratchDir dir;
  WriteModifiedModel(dir.path(), [](auto&) {},
                     [](auto& t) { t.erase("model.layers.2.linear_attn.A_log"); });
  auto model = TextModel::Load(dir.path());
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("model.layers.2.linear_attn.A_log"));
}

TEST(TextBadInput, MisshapedTensorIsNamed) {
  ScratchDir dir;
  WriteModifiedModel(dir.path(), [](auto&) {}, [](auto& t) {
    t["model.layers.3.self_attn.q_norm.weight"] = core::Tensor::Zeros({31}, core::DType::kF32);
  });
  auto model = TextModel::Load(dir.path());
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("model.layers.3.self_attn.q_norm.weight"));
}

TEST(TextBadInput, TensorsTheConfigDoesNotExplainAreRejected) {
  ScratchDir dir;
  WriteModifiedModel(dir.path(), [](auto&) {}, [](auto& t) {
    t["model.layers.4.input_layernorm.weight"] = core::Tensor::Zeros({64}, core::DType::kF32);
  });
  auto model = TextModel::Load(dir.path());
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("model.layers.4.input_layernorm.weight"));
}

TEST(TextBadInput, ConfigDisagreeingWithWeightsIsRejected) {
  ScratchDir dir;
  // Layer 0 declared full attention while the checkpoint holds a DeltaNet layer there.
  WriteModifiedModel(dir.path(), [](nlohmann::json& c) {
    c["layer_types"][0] = "full_attention";
  }, [](auto&) {});
  auto model = TextModel::Load(dir.path());
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("model.layers.0.self_attn.q_proj.weight"));
}

}  // namespace
}  // namespace qwen::testing

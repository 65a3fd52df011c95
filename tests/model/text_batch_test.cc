// The flattened varlen batch gives every sequence exactly what it gets alone, whether it is in
// prefill (chunked delta rule) or decode (recurrent step), and token-by-token feeding agrees with
// one prefill.
#include <random>

#include "gtest/gtest.h"
#include "tests/model/reference_case.h"
#include "text_service/model/text_model.h"

namespace qwen::testing {
namespace {

using text::ForwardBatch;
using text::LogitsMode;
using text::SequenceSpan;
using text::SequenceState;
using text::TextModel;

class TextBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = TextModel::Load(ReferenceRoot() / "text_cond_untied_hv2" / "model");
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = std::move(*m);
  }

  std::vector<int64_t> RandomIds(int64_t n, uint32_t seed) const {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int64_t> dist(0, model_->config().vocab_size - 1);
    std::vector<int64_t> ids(n);
    for (auto& id : ids) id = dist(rng);
    return ids;
  }

  // Runs `chunks[i]` for sequence `states[i]` in one flattened batch; returns last-token logits
  // [num_sequences, V].
  core::Tensor RunBatch(const std::vector<std::vector<int64_t>>& chunks,
                        const std::vector<SequenceState*>& states) const {
    std::vector<int64_t> ids;
    ForwardBatch batch;
    for (size_t i = 0; i < chunks.size(); ++i) {
      batch.sequences.push_back(SequenceSpan{.begin = static_cast<int64_t>(ids.size()),
                                             .length = static_cast<int64_t>(chunks[i].size()),
                                             .state = states[i]});
      ids.insert(ids.end(), chunks[i].begin(), chunks[i].end());
    }
    batch.token_ids = ids;
    std::vector<int64_t> pos = text::TextPositions(batch.sequences, static_cast<int64_t>(ids.size()));
    batch.positions = pos;
    auto logits = model_->Forward({.num_threads = 2}, batch, LogitsMode::kLast);
    EXPECT_TRUE(logits.ok()) << logits.status();
    return logits.ok() ? *logits : core::Tensor();
  }

  std::unique_ptr<TextModel> model_;
};

TEST_F(TextBatchTest, BatchEqualsOneAtATimeThroughPrefillAndDecode) {
  const int64_t vocab = model_->config().vocab_size;
  // Lengths straddle the 64-token chunk and include a single-token prompt.
  std::vector<std::vector<int64_t>> prompts = {RandomIds(70, 1), RandomIds(1, 2), RandomIds(33, 3)};
  std::vector<SequenceState> batched, alone;
  for (size_t i = 0; i < prompts.size(); ++i) {
    batched.push_back(model_->NewSequence());
    alone.push_back(model_->NewSequence());
  }
  std::vector<SequenceState*> batched_ptrs = {&batched[0], &batched[1], &batched[2]};
  core::Tensor b = RunBatch(prompts, batched_ptrs);
  for (size_t i = 0; i < prompts.size(); ++i) {
    core::Tensor a = RunBatch({prompts[i]}, {&alone[i]});
    EXPECT_LE(MaxAbsDiff(b.data<float>() + i * vocab, a.data<float>(), vocab), 1e-5f) << "seq " << i;
  }
  // Decode steps, and a mixed step where one sequence is still prefilling.
  for (int step = 0; step < 4; ++step) {
    std::vector<std::vector<int64_t>> next = {RandomIds(1, 10 + step), RandomIds(step == 2 ? 9 : 1, 20 + step),
                                              RandomIds(1, 30 + step)};
    core::Tensor bb = RunBatch(next, batched_ptrs);
    for (size_t i = 0; i < next.size(); ++i) {
      core::Tensor a = RunBatch({next[i]}, {&alone[i]});
      EXPECT_LE(MaxAbsDiff(bb.data<float>() + i * vocab, a.data<float>(), vocab), 1e-5f)
          << "step " << step << " seq " << i;
    }
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(batched[i].num_tokens(), alone[i].num_tokens());
  }
}

TEST_F(TextBatchTest, TokenByTokenMatchesPrefill) {
  const int64_t vocab = model_->config().vocab_size;
  std::vector<int64_t> prompt = RandomIds(80, 7);
  SequenceState whole = model_->NewSequence(), stepped = model_->NewSequence();
  core::Tensor full = RunBatch({prompt}, {&whole});
  core::Tensor last;
  for (int64_t id : prompt) last = RunBatch({{id}}, {&stepped});
  const float scale = MaxAbs(full.data<float>(), vocab);
  // Chunked and recurrent forms agree to fp32 rounding accumulated over 80 tokens and 8 layers.
  EXPECT_LE(MaxAbsDiff(full.data<float>(), last.data<float>(), vocab), 1e-4f * scale);
  for (int64_t layer = 0; layer < static_cast<int64_t>(model_->config().layer_types.size()); ++layer) {
    const auto& r1 = whole.layer(layer).recurrent;
    const auto& r2 = stepped.layer(layer).recurrent;
    ASSERT_EQ(r1.size(), r2.size());
    if (!r1.empty()) {
      EXPECT_LE(MaxAbsDiff(r1.data(), r2.data(), static_cast<int64_t>(r1.size())), 1e-4f) << "layer " << layer;
    }
  }
}

}  // namespace
}  // namespace qwen::testing

#include "text_service/model/text_model.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "kernels/rms_norm.h"

namespace qwen::text {

namespace kc = kernels::cpu;

std::vector<int64_t> TextPositions(const std::vector<SequenceSpan>& sequences, int64_t num_rows) {
  std::vector<int64_t> pos(static_cast<size_t>(3 * num_rows), 0);
  for (const SequenceSpan& s : sequences) {
    for (int64_t i = 0; i < s.length; ++i) {
      int64_t p = s.state->num_tokens() + i + s.state->rope_delta();
      for (int axis = 0; axis < 3; ++axis) pos[axis * num_rows + s.begin + i] = p;
    }
  }
  return pos;
}

absl::StatusOr<std::unique_ptr<TextModel>> TextModel::Load(const std::filesystem::path& dir) {
  std::unique_ptr<TextModel> m(new TextModel());
  QWEN_ASSIGN_OR_RETURN(m->config_, core::LoadModelConfig(dir));
  QWEN_ASSIGN_OR_RETURN(core::Checkpoint ckpt, core::Checkpoint::Open(dir));
  const core::TextConfig& c = m->config_.text;
  const std::string& prefix = m->config_.text_weight_prefix;
  WeightLoader root(&ckpt, prefix);

  QWEN_ASSIGN_OR_RETURN(m->embed_tokens_,
                        root.Get("embed_tokens.weight", {c.vocab_size, c.hidden_size}));
  QWEN_ASSIGN_OR_RETURN(m->norm_, root.Get("norm.weight", {c.hidden_size}));
  if (c.tie_word_embeddings) {
    if (ckpt.Has("lm_head.weight")) {
      // HF ignores a stored head when tied; accept it but do not use it (mark as read).
      QWEN_RETURN_IF_ERROR(ckpt.Get("lm_head.weight").status());
    }
    m->lm_head_ = m->embed_tokens_;
  } else {
    WeightLoader head(&ckpt, "");
    QWEN_ASSIGN_OR_RETURN(m->lm_head_, head.Get("lm_head.weight", {c.vocab_size, c.hidden_size}));
  }

  for (int64_t i = 0; i < static_cast<int64_t>(c.layer_types.size()); ++i) {
    WeightLoader lw = root.Sub(absl::StrCat("layers.", i, "."));
    QWEN_ASSIGN_OR_RETURN(core::Tensor in_ln, lw.Get("input_layernorm.weight", {c.hidden_size}));
    QWEN_ASSIGN_OR_RETURN(core::Tensor post_ln,
                          lw.Get("post_attention_layernorm.weight", {c.hidden_size}));
    QWEN_ASSIGN_OR_RETURN(Mlp mlp, Mlp::Load(lw.Sub("mlp."), c));
    if (c.layer_types[i] == core::LayerType::kFullAttention) {
      QWEN_ASSIGN_OR_RETURN(GatedAttention attn, GatedAttention::Load(lw.Sub("self_attn."), m->config_.text, i));
      m->layers_.push_back(Layer{std::move(attn), std::move(in_ln), std::move(post_ln), std::move(mlp)});
    } else {
      QWEN_ASSIGN_OR_RETURN(GatedDeltaNet gdn, GatedDeltaNet::Load(lw.Sub("linear_attn."), m->config_.text, i));
      m->layers_.push_back(Layer{std::move(gdn), std::move(in_ln), std::move(post_ln), std::move(mlp)});
    }
  }
  // A tensor under the text prefix that we did not read means the checkpoint and config disagree
  // (e.g. more layers than num_hidden_layers, or a layer of the other type).
  std::vector<std::string> unused = ckpt.Unused({prefix});
  if (!unused.empty()) {
    if (unused.size() > 5) unused.resize(5);
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", dir.string(), " has tensors the config does not explain: ",
        absl::StrJoin(unused, ", ")));
  }
  return m;
}

absl::Status TextModel::Validate(const ForwardBatch& batch) const {
  const int64_t n = static_cast<int64_t>(batch.token_ids.size());
  const core::TextConfig& c = config_.text;
  if (n == 0) return absl::InvalidArgumentError("empty batch: no tokens");
  if (static_cast<int64_t>(batch.positions.size()) != 3 * n) {
    return absl::InvalidArgumentError(absl::StrCat("positions has ", batch.positions.size(),
                                                   " entries; expected 3 x ", n));
  }
  for (int64_t i = 0; i < n; ++i) {
    int64_t id = batch.token_ids[i];
    if (id < 0 || id >= c.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", id, " at position ", i,
                                                     " is out of range [0, ", c.vocab_size, ")"));
    }
  }
  int64_t next = 0;
  std::set<const SequenceState*> seen;
  for (size_t s = 0; s < batch.sequences.size(); ++s) {
    const SequenceSpan& span = batch.sequences[s];
    if (span.state == nullptr || span.begin != next || span.length < 1) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " span [", span.begin, ", +",
                                                     span.length, ") is not the next contiguous span"));
    }
    if (!seen.insert(span.state).second) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " repeats a state"));
    }
    if (span.state->num_tokens() + span.length > c.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sequence ", s, " would hold ", span.state->num_tokens() + span.length,
          " tokens, over the model's context of ", c.max_position_embeddings));
    }
    next += span.length;
  }
  if (next != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("sequence spans cover ", next, " rows of a ", n, "-token batch"));
  }
  return absl::OkStatus();
}

void TextModel::EmbedTokens(std::span<const int64_t> ids, float* out) const {
  kc::EmbeddingGather(embed_tokens_.data<float>(), ids.data(), out, static_cast<int64_t>(ids.size()),
                      config_.text.hidden_size);
}

absl::StatusOr<core::Tensor> TextModel::ForwardHidden(const ForwardContext& ctx,
                                                      const ForwardBatch& batch) const {
  QWEN_RETURN_IF_ERROR(Validate(batch));
  const core::TextConfig& c = config_.text;
  const int64_t n = static_cast<int64_t>(batch.token_ids.size()), h = c.hidden_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const kc::RmsNormParams norm{.rows = n, .dim = h, .x_stride = h, .y_stride = h, .eps = eps,
                               .weight_offset = 1.0f};

  core::Tensor hidden = core::Tensor::Zeros({n, h}, core::DType::kF32);
  if (batch.input_embeds != nullptr) {
    std::memcpy(hidden.data<float>(), batch.input_embeds, static_cast<size_t>(n * h) * sizeof(float));
  } else {
    kc::EmbeddingGather(embed_tokens_.data<float>(), batch.token_ids.data(), hidden.data<float>(),
                        n, h);
  }
  core::Tensor normed = core::Tensor::Zeros({n, h}, core::DType::kF32);
  for (const Layer& layer : layers_) {
    kc::RmsNorm(hidden.data<float>(), layer.input_layernorm.data<float>(), normed.data<float>(), norm);
    core::Tensor mixed = std::visit(
        [&](const auto& mixer) { return mixer.Forward(ctx, normed, batch); }, layer.mixer);
    kc::Add(hidden.data<float>(), mixed.data<float>(), hidden.data<float>(), n * h);
    kc::RmsNorm(hidden.data<float>(), layer.post_attention_layernorm.data<float>(),
                normed.data<float>(), norm);
    core::Tensor mlp = layer.mlp.Forward(ctx, normed);
    kc::Add(hidden.data<float>(), mlp.data<float>(), hidden.data<float>(), n * h);
  }
  for (const SequenceSpan& s : batch.sequences) s.state->Advance(s.length);
  kc::RmsNorm(hidden.data<float>(), norm_.data<float>(), hidden.data<float>(), norm);
  return hidden;
}

absl::StatusOr<core::Tensor> TextModel::Forward(const ForwardContext& ctx,
                                                const ForwardBatch& batch, LogitsMode mode) const {
  QWEN_ASSIGN_OR_RETURN(core::Tensor hidden, ForwardHidden(ctx, batch));
  const int64_t h = config_.text.hidden_size, vocab = config_.text.vocab_size;
  core::Tensor rows = hidden;
  if (mode == LogitsMode::kLast) {
    const int64_t num_seq = static_cast<int64_t>(batch.sequences.size());
    rows = core::Tensor::Zeros({num_seq, h}, core::DType::kF32);
    for (int64_t s = 0; s < num_seq; ++s) {
      const SequenceSpan& span = batch.sequences[s];
      std::memcpy(rows.data<float>() + s * h,
                  hidden.data<float>() + (span.begin + span.length - 1) * h, h * sizeof(float));
    }
  }
  const int64_t m = rows.dim(0);
  core::Tensor logits = core::Tensor::Zeros({m, vocab}, core::DType::kF32);
  kc::Linear(rows.data<float>(), lm_head_.data<float>(), nullptr, logits.data<float>(), m, vocab, h,
             ctx.num_threads);
  return logits;
}

}  // namespace qwen::text

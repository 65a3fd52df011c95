#include "tests/model/cuda/bf16_oracle.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/config.h"
#include "core/dtype.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "kernels/attention.h"
#include "kernels/conv1d.h"
#include "kernels/elementwise.h"
#include "kernels/gated_delta_rule.h"
#include "kernels/linear.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"

namespace qwen::testing {
namespace {

namespace kc = ::qwen::kernels::cpu;
using Vec = std::vector<float>;

void Round(Vec& v) {
  for (float& x : v) x = core::BF16ToF32(core::F32ToBF16(x));
}

class Weights {
 public:
  Weights(core::Checkpoint ckpt, std::string prefix)
      : ckpt_(std::move(ckpt)), prefix_(std::move(prefix)) {}
  // prefix + name as f32, rounded to bf16 unless `keep_f32` (A_log, dt_bias stay fp32 on GPU).
  absl::StatusOr<Vec> Get(const std::string& name, bool keep_f32 = false, bool global = false) {
    QWEN_ASSIGN_OR_RETURN(core::Tensor t, ckpt_.Get(global ? name : prefix_ + name));
    const core::Tensor f = t.ToF32();
    Vec v(f.data<float>(), f.data<float>() + f.numel());
    if (!keep_f32) Round(v);
    return v;
  }

 private:
  core::Checkpoint ckpt_;
  std::string prefix_;
};

Vec Linear(const Vec& x, const Vec& w, int64_t m, int64_t n, int64_t k) {
  Vec y(static_cast<size_t>(m * n));
  kc::Linear(x.data(), w.data(), nullptr, y.data(), m, n, k, 2);
  Round(y);  // cuBLASLt: fp32 accumulation, bf16 output
  return y;
}

}  // namespace

absl::StatusOr<core::Tensor> Bf16OracleLogits(const std::filesystem::path& model_dir,
                                              const std::vector<int64_t>& ids) {
  QWEN_ASSIGN_OR_RETURN(core::ModelConfig config, core::LoadModelConfig(model_dir));
  QWEN_ASSIGN_OR_RETURN(core::Checkpoint ckpt, core::Checkpoint::Open(model_dir));
  const core::TextConfig& c = config.text;
  Weights w(std::move(ckpt), config.text_weight_prefix);
  const int64_t n = static_cast<int64_t>(ids.size()), h = c.hidden_size, vocab = c.vocab_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  QWEN_ASSIGN_OR_RETURN(Vec embed, w.Get("embed_tokens.weight"));
  Vec hidden(static_cast<size_t>(n * h)), normed(hidden.size());
  for (int64_t t = 0; t < n; ++t) {
    std::copy(embed.begin() + ids[t] * h, embed.begin() + (ids[t] + 1) * h, hidden.begin() + t * h);
  }
  std::vector<int64_t> positions(static_cast<size_t>(3 * n));
  for (int64_t i = 0; i < 3 * n; ++i) positions[static_cast<size_t>(i)] = i % n;
  auto norm = [&](const Vec& weight) {
    kc::RmsNorm(
        hidden.data(), weight.data(), normed.data(),
        {.rows = n, .dim = h, .x_stride = h, .y_stride = h, .eps = eps, .weight_offset = 1.0f});
    Round(normed);
  };
  auto add = [&](const Vec& mix) {  // bf16 residual stream (AddRmsNorm)
    for (size_t i = 0; i < hidden.size(); ++i) hidden[i] += mix[i];
    Round(hidden);
  };
  for (size_t layer = 0; layer < c.layer_types.size(); ++layer) {
    const std::string lp = absl::StrCat("layers.", layer, ".");
    QWEN_ASSIGN_OR_RETURN(Vec in_ln, w.Get(lp + "input_layernorm.weight"));
    norm(in_ln);
    Vec mix;
    if (c.layer_types[layer] == core::LayerType::kFullAttention) {
      const int64_t d = c.head_dim, hq = c.num_attention_heads, hkv = c.num_key_value_heads;
      const std::string ap = lp + "self_attn.";
      QWEN_ASSIGN_OR_RETURN(Vec wq, w.Get(ap + "q_proj.weight"));
      QWEN_ASSIGN_OR_RETURN(Vec wk, w.Get(ap + "k_proj.weight"));
      QWEN_ASSIGN_OR_RETURN(Vec wv, w.Get(ap + "v_proj.weight"));
      QWEN_ASSIGN_OR_RETURN(Vec wo, w.Get(ap + "o_proj.weight"));
      QWEN_ASSIGN_OR_RETURN(Vec qn, w.Get(ap + "q_norm.weight"));
      QWEN_ASSIGN_OR_RETURN(Vec kn, w.Get(ap + "k_norm.weight"));
      const Vec qg = Linear(normed, wq, n, 2 * hq * d, h);
      Vec k = Linear(normed, wk, n, hkv * d, h);
      const Vec v = Linear(normed, wv, n, hkv * d, h);
      Vec q(static_cast<size_t>(n * hq * d)), gate(q.size());
      for (int64_t r = 0; r < n * hq; ++r) {
        std::copy(qg.begin() + r * 2 * d, qg.begin() + r * 2 * d + d, q.begin() + r * d);
        std::copy(qg.begin() + r * 2 * d + d, qg.begin() + (r + 1) * 2 * d, gate.begin() + r * d);
      }
      kc::RmsNorm(q.data(), qn.data(), q.data(),
                  {.rows = n * hq,
                   .dim = d,
                   .x_stride = d,
                   .y_stride = d,
                   .eps = eps,
                   .weight_offset = 1.0f});
      Round(q);
      kc::RmsNorm(k.data(), kn.data(), k.data(),
                  {.rows = n * hkv,
                   .dim = d,
                   .x_stride = d,
                   .y_stride = d,
                   .eps = eps,
                   .weight_offset = 1.0f});
      Round(k);
      kc::MRopeParams rope{.num_tokens = n,
                           .num_heads = hq,
                           .head_dim = d,
                           .rotary_dim = c.rotary_dim(),
                           .token_stride = hq * d,
                           .head_stride = d,
                           .theta = c.rope_theta,
                           .mrope_section = c.mrope_section};
      kc::ApplyMRope(q.data(), positions.data(), rope);
      Round(q);
      rope.num_heads = hkv;
      rope.token_stride = hkv * d;
      kc::ApplyMRope(k.data(), positions.data(), rope);
      Round(k);
      Vec attn(q.size());
      kc::CausalAttention(q.data(), k.data(), v.data(), attn.data(),
                          {.num_new = n,
                           .kv_len = n,
                           .num_heads_q = hq,
                           .num_heads_kv = hkv,
                           .head_dim = d,
                           .q_stride = hq * d,
                           .kv_stride = hkv * d,
                           .scale = 1.0f / std::sqrt(static_cast<float>(d))});
      Round(attn);
      kc::MulSigmoid(attn.data(), gate.data(), n * hq * d);
      Round(attn);
      mix = Linear(attn, wo, n, h, hq * d);
    } else {
      const int64_t hk = c.linear_num_key_heads, hv = c.linear_num_value_heads;
      const int64_t dk = c.linear_key_head_dim, dv = c.linear_value_head_dim;
      const int64_t cd = c.linear_conv_dim(), kc_size = c.linear_conv_kernel_dim;
      const std::string gp = lp + "linear_attn.";
      QWEN_ASSIGN_OR_RETURN(Vec wqkv, w.Get(gp + "in_proj_qkv.weight"));
      QWEN_ASSIGN_OR_RETURN(Vec wz, w.Get(gp + "in_proj_z.weight"));
      QWEN_ASSIGN_OR_RETURN(Vec wb, w.Get(gp + "in_proj_b.weight"));
      QWEN_ASSIGN_OR_RETURN(Vec wa, w.Get(gp + "in_proj_a.weight"));
      QWEN_ASSIGN_OR_RETURN(Vec conv_w, w.Get(gp + "conv1d.weight"));
      QWEN_ASSIGN_OR_RETURN(Vec a_log, w.Get(gp + "A_log", true));
      QWEN_ASSIGN_OR_RETURN(Vec dt_bias, w.Get(gp + "dt_bias", true));
      QWEN_ASSIGN_OR_RETURN(Vec gnorm, w.Get(gp + "norm.weight"));
      QWEN_ASSIGN_OR_RETURN(Vec wout, w.Get(gp + "out_proj.weight"));
      const Vec u = Linear(normed, wqkv, n, cd, h);
      const Vec z = Linear(normed, wz, n, hv * dv, h);
      const Vec b = Linear(normed, wb, n, hv, h);
      const Vec a = Linear(normed, wa, n, hv, h);
      Vec g(static_cast<size_t>(n * hv)), beta(g.size());
      kc::GatedDeltaGates(a.data(), b.data(), a_log.data(), dt_bias.data(), g.data(), beta.data(),
                          n, hv, hv, hv);
      Vec state(static_cast<size_t>((kc_size - 1) * cd), 0.0f), conv(static_cast<size_t>(n * cd));
      kc::CausalConv1dSilu(u.data(), conv_w.data(), state.data(), conv.data(),
                           {.num_tokens = n, .channels = cd, .kernel = kc_size, .u_stride = cd});
      float* q = conv.data();
      float* k = q + hk * dk;
      float* v = q + 2 * hk * dk;
      kc::L2NormHeads(q, n, hk, dk, cd, 1e-6f, 1.0f / std::sqrt(static_cast<float>(dk)));
      kc::L2NormHeads(k, n, hk, dk, cd, 1e-6f, 1.0f);
      Vec s(static_cast<size_t>(hv * dk * dv), 0.0f), o(static_cast<size_t>(n * hv * dv));
      kc::GatedDeltaRuleChunked(q, k, v, g.data(), beta.data(), s.data(), o.data(),
                                {.num_tokens = n,
                                 .num_heads_k = hk,
                                 .num_heads_v = hv,
                                 .head_dim_k = dk,
                                 .head_dim_v = dv,
                                 .qk_stride = cd,
                                 .v_stride = cd});
      kc::GatedRmsNorm(o.data(), z.data(), gnorm.data(), o.data(), n * hv, dv, eps);
      Round(o);
      mix = Linear(o, wout, n, h, hv * dv);
    }
    add(mix);
    QWEN_ASSIGN_OR_RETURN(Vec post_ln, w.Get(lp + "post_attention_layernorm.weight"));
    norm(post_ln);
    const int64_t inter = c.intermediate_size;
    QWEN_ASSIGN_OR_RETURN(Vec wg, w.Get(lp + "mlp.gate_proj.weight"));
    QWEN_ASSIGN_OR_RETURN(Vec wu, w.Get(lp + "mlp.up_proj.weight"));
    QWEN_ASSIGN_OR_RETURN(Vec wd, w.Get(lp + "mlp.down_proj.weight"));
    Vec gate = Linear(normed, wg, n, inter, h);
    const Vec up = Linear(normed, wu, n, inter, h);
    kc::SiluMul(gate.data(), up.data(), gate.data(), n * inter);
    Round(gate);
    add(Linear(gate, wd, n, h, inter));
  }
  QWEN_ASSIGN_OR_RETURN(Vec final_norm, w.Get("norm.weight"));
  norm(final_norm);
  Vec head;
  if (c.tie_word_embeddings) {
    head = std::move(embed);
  } else {
    QWEN_ASSIGN_OR_RETURN(head, w.Get("lm_head.weight", false, true));
  }
  core::Tensor logits = core::Tensor::Zeros({n, vocab}, core::DType::kF32);
  kc::Linear(normed.data(), head.data(), nullptr, logits.data<float>(), n, vocab, h, 2);
  return logits;
}

namespace {

absl::StatusOr<std::vector<int64_t>> Ids(const core::SafetensorsFile& f, const std::string& name) {
  QWEN_ASSIGN_OR_RETURN(core::Tensor t, f.Get(name));
  QWEN_ASSIGN_OR_RETURN(core::Tensor i64, t.To(core::DType::kI64));
  return std::vector<int64_t>(i64.data<int64_t>(), i64.data<int64_t>() + i64.numel());
}

float MaxAbsDiffRows(const float* a, const float* b, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

}  // namespace

absl::StatusOr<CaseNoise> MeasureCaseNoise(const std::filesystem::path& case_dir) {
  QWEN_ASSIGN_OR_RETURN(auto inputs, core::SafetensorsFile::Open(case_dir / "inputs.safetensors"));
  QWEN_ASSIGN_OR_RETURN(auto expected,
                        core::SafetensorsFile::Open(case_dir / "expected.safetensors"));
  QWEN_ASSIGN_OR_RETURN(std::vector<int64_t> ids, Ids(*inputs, "input_ids"));
  QWEN_ASSIGN_OR_RETURN(core::Tensor ref, expected->Get("logits"));
  const int64_t t = static_cast<int64_t>(ids.size()), vocab = ref.dim(1);
  std::vector<int64_t> greedy;
  core::Tensor steps;
  if (expected->Has("greedy_ids")) {
    QWEN_ASSIGN_OR_RETURN(greedy, Ids(*expected, "greedy_ids"));
    QWEN_ASSIGN_OR_RETURN(steps, expected->Get("step_logits"));
  }
  // Teacher forcing: step i's logits are those after prompt + greedy[0..i).
  std::vector<int64_t> all = ids;
  if (!greedy.empty()) all.insert(all.end(), greedy.begin(), greedy.end() - 1);
  QWEN_ASSIGN_OR_RETURN(core::Tensor oracle, Bf16OracleLogits(case_dir / "model", all));
  const core::Tensor ref_f32 = ref.ToF32();
  CaseNoise n;
  for (int64_t i = 0; i < ref_f32.numel(); ++i) {
    n.scale = std::max(n.scale, std::fabs(ref_f32.data<float>()[i]));
  }
  if (n.scale <= 0.0f) return absl::InvalidArgumentError("reference logits are all zero");
  n.prefill_noise =
      MaxAbsDiffRows(oracle.data<float>(), ref_f32.data<float>(), t * vocab) / n.scale;
  if (!greedy.empty()) {
    const core::Tensor steps_f32 = steps.ToF32();
    n.step_noise = MaxAbsDiffRows(oracle.data<float>() + (t - 1) * vocab, steps_f32.data<float>(),
                                  static_cast<int64_t>(greedy.size()) * vocab) /
                   n.scale;
  }
  n.noise = std::max(n.prefill_noise, n.step_noise);
  return n;
}

}  // namespace qwen::testing

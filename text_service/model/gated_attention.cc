#include "text_service/model/gated_attention.h"

#include <cmath>
#include <cstring>

#include "core/status.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"

namespace qwen::text {

namespace kc = kernels::cpu;

absl::StatusOr<GatedAttention> GatedAttention::Load(const WeightLoader& w,
                                                    const core::TextConfig& c,
                                                    int64_t layer_index) {
  GatedAttention a;
  a.config_ = &c;
  a.layer_ = layer_index;
  const int64_t h = c.hidden_size, d = c.head_dim;
  const int64_t hq = c.num_attention_heads, hkv = c.num_key_value_heads;
  QWEN_ASSIGN_OR_RETURN(a.q_proj_, w.Get("q_proj.weight", {2 * hq * d, h}));
  QWEN_ASSIGN_OR_RETURN(a.k_proj_, w.Get("k_proj.weight", {hkv * d, h}));
  QWEN_ASSIGN_OR_RETURN(a.v_proj_, w.Get("v_proj.weight", {hkv * d, h}));
  QWEN_ASSIGN_OR_RETURN(a.o_proj_, w.Get("o_proj.weight", {h, hq * d}));
  QWEN_ASSIGN_OR_RETURN(a.q_norm_, w.Get("q_norm.weight", {d}));
  QWEN_ASSIGN_OR_RETURN(a.k_norm_, w.Get("k_norm.weight", {d}));
  return a;
}

core::Tensor GatedAttention::Forward(const ForwardContext& ctx, const core::Tensor& x,
                                     const ForwardBatch& batch) const {
  const core::TextConfig& c = *config_;
  const int64_t n = x.dim(0), h = c.hidden_size, d = c.head_dim;
  const int64_t hq = c.num_attention_heads, hkv = c.num_key_value_heads;
  const float eps = static_cast<float>(c.rms_norm_eps);

  core::Tensor qg = core::Tensor::Zeros({n, 2 * hq * d}, core::DType::kF32);
  core::Tensor k = core::Tensor::Zeros({n, hkv * d}, core::DType::kF32);
  core::Tensor v = core::Tensor::Zeros({n, hkv * d}, core::DType::kF32);
  kc::Linear(x.data<float>(), q_proj_.data<float>(), nullptr, qg.data<float>(), n, 2 * hq * d, h,
             ctx.num_threads);
  kc::Linear(x.data<float>(), k_proj_.data<float>(), nullptr, k.data<float>(), n, hkv * d, h,
             ctx.num_threads);
  kc::Linear(x.data<float>(), v_proj_.data<float>(), nullptr, v.data<float>(), n, hkv * d, h,
             ctx.num_threads);

  // Split the per-head [query | gate] layout into contiguous q [n, Hq, D] and gate [n, Hq*D].
  core::Tensor q = core::Tensor::Zeros({n, hq, d}, core::DType::kF32);
  core::Tensor gate = core::Tensor::Zeros({n, hq * d}, core::DType::kF32);
  const float* qg_p = qg.data<float>();
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t head = 0; head < hq; ++head) {
      const float* src = qg_p + (t * hq + head) * 2 * d;
      std::memcpy(q.data<float>() + (t * hq + head) * d, src, d * sizeof(float));
      std::memcpy(gate.data<float>() + (t * hq + head) * d, src + d, d * sizeof(float));
    }
  }

  kc::RmsNorm(q.data<float>(), q_norm_.data<float>(), q.data<float>(),
              {.rows = n * hq, .dim = d, .x_stride = d, .y_stride = d, .eps = eps,
               .weight_offset = 1.0f});
  kc::RmsNorm(k.data<float>(), k_norm_.data<float>(), k.data<float>(),
              {.rows = n * hkv, .dim = d, .x_stride = d, .y_stride = d, .eps = eps,
               .weight_offset = 1.0f});
  kc::MRopeParams rope{.num_tokens = n, .num_heads = hq, .head_dim = d,
                       .rotary_dim = c.rotary_dim(), .token_stride = hq * d, .head_stride = d,
                       .theta = c.rope_theta, .mrope_section = c.mrope_section};
  kc::ApplyMRope(q.data<float>(), batch.positions.data(), rope);
  rope.num_heads = hkv;
  rope.token_stride = hkv * d;
  kc::ApplyMRope(k.data<float>(), batch.positions.data(), rope);

  core::Tensor attn = core::Tensor::Zeros({n, hq * d}, core::DType::kF32);
  const size_t row = static_cast<size_t>(hkv * d);
  for (const SequenceSpan& s : batch.sequences) {
    LayerState& st = s.state->layer(layer_);
    const int64_t past = s.state->num_tokens();
    st.k.insert(st.k.end(), k.data<float>() + s.begin * row, k.data<float>() + (s.begin + s.length) * row);
    st.v.insert(st.v.end(), v.data<float>() + s.begin * row, v.data<float>() + (s.begin + s.length) * row);
    kc::CausalAttention(q.data<float>() + s.begin * hq * d, st.k.data(), st.v.data(),
                        attn.data<float>() + s.begin * hq * d,
                        {.num_new = s.length, .kv_len = past + s.length, .num_heads_q = hq,
                         .num_heads_kv = hkv, .head_dim = d, .q_stride = hq * d,
                         .kv_stride = hkv * d, .scale = 1.0f / std::sqrt(static_cast<float>(d))});
  }
  kc::MulSigmoid(attn.data<float>(), gate.data<float>(), n * hq * d);

  core::Tensor out = core::Tensor::Zeros({n, h}, core::DType::kF32);
  kc::Linear(attn.data<float>(), o_proj_.data<float>(), nullptr, out.data<float>(), n, h, hq * d,
             ctx.num_threads);
  return out;
}

}  // namespace qwen::text

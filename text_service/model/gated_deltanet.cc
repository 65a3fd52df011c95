#include "text_service/model/gated_deltanet.h"

#include <cmath>

#include "core/status.h"
#include "kernels/conv1d.h"
#include "kernels/gated_delta_rule.h"
#include "kernels/linear.h"
#include "kernels/rms_norm.h"

namespace qwen::text {

namespace kc = kernels::cpu;

absl::StatusOr<GatedDeltaNet> GatedDeltaNet::Load(const WeightLoader& w,
                                                  const core::TextConfig& c, int64_t layer_index) {
  GatedDeltaNet g;
  g.config_ = &c;
  g.layer_ = layer_index;
  const int64_t h = c.hidden_size, hv = c.linear_num_value_heads, dv = c.linear_value_head_dim;
  const int64_t conv_dim = c.linear_conv_dim(), kc_size = c.linear_conv_kernel_dim;
  QWEN_ASSIGN_OR_RETURN(g.in_proj_qkv_, w.Get("in_proj_qkv.weight", {conv_dim, h}));
  QWEN_ASSIGN_OR_RETURN(g.in_proj_z_, w.Get("in_proj_z.weight", {hv * dv, h}));
  QWEN_ASSIGN_OR_RETURN(g.in_proj_b_, w.Get("in_proj_b.weight", {hv, h}));
  QWEN_ASSIGN_OR_RETURN(g.in_proj_a_, w.Get("in_proj_a.weight", {hv, h}));
  QWEN_ASSIGN_OR_RETURN(core::Tensor conv, w.Get("conv1d.weight", {conv_dim, 1, kc_size}));
  g.conv_ = conv.Reshaped({conv_dim, kc_size});
  QWEN_ASSIGN_OR_RETURN(g.dt_bias_, w.Get("dt_bias", {hv}));
  QWEN_ASSIGN_OR_RETURN(g.a_log_, w.Get("A_log", {hv}));
  QWEN_ASSIGN_OR_RETURN(g.norm_, w.Get("norm.weight", {dv}));
  QWEN_ASSIGN_OR_RETURN(g.out_proj_, w.Get("out_proj.weight", {h, hv * dv}));
  return g;
}

core::Tensor GatedDeltaNet::Forward(const ForwardContext& ctx, const core::Tensor& x,
                                    const ForwardBatch& batch) const {
  const core::TextConfig& c = *config_;
  const int64_t n = x.dim(0), h = c.hidden_size;
  const int64_t hk = c.linear_num_key_heads, hv = c.linear_num_value_heads;
  const int64_t dk = c.linear_key_head_dim, dv = c.linear_value_head_dim;
  const int64_t conv_dim = c.linear_conv_dim();
  auto f32 = [](int64_t rows, int64_t cols) {
    return core::Tensor::Zeros({rows, cols}, core::DType::kF32);
  };

  core::Tensor u = f32(n, conv_dim), z = f32(n, hv * dv), b = f32(n, hv), a = f32(n, hv);
  kc::Linear(x.data<float>(), in_proj_qkv_.data<float>(), nullptr, u.data<float>(), n, conv_dim, h,
             ctx.num_threads);
  kc::Linear(x.data<float>(), in_proj_z_.data<float>(), nullptr, z.data<float>(), n, hv * dv, h,
             ctx.num_threads);
  kc::Linear(x.data<float>(), in_proj_b_.data<float>(), nullptr, b.data<float>(), n, hv, h,
             ctx.num_threads);
  kc::Linear(x.data<float>(), in_proj_a_.data<float>(), nullptr, a.data<float>(), n, hv, h,
             ctx.num_threads);

  core::Tensor g = f32(n, hv), beta = f32(n, hv);
  kc::GatedDeltaGates(a.data<float>(), b.data<float>(), a_log_.data<float>(), dt_bias_.data<float>(),
                      g.data<float>(), beta.data<float>(), n, hv, hv, hv);

  // Causal conv + SiLU per sequence, continuing from its conv state.
  core::Tensor conv_out = f32(n, conv_dim);
  for (const SequenceSpan& s : batch.sequences) {
    kc::CausalConv1dSilu(u.data<float>() + s.begin * conv_dim, conv_.data<float>(),
                         s.state->layer(layer_).conv.data(),
                         conv_out.data<float>() + s.begin * conv_dim,
                         {.num_tokens = s.length, .channels = conv_dim,
                          .kernel = c.linear_conv_kernel_dim, .u_stride = conv_dim});
  }

  // q, k L2-normalised per head (eps 1e-6 on the sum of squares, independent of rms_norm_eps);
  // q also scaled by Dk^-1/2. v is left as is.
  float* q = conv_out.data<float>();
  float* k = q + hk * dk;
  float* v = q + 2 * hk * dk;
  kc::L2NormHeads(q, n, hk, dk, conv_dim, 1e-6f, 1.0f / std::sqrt(static_cast<float>(dk)));
  kc::L2NormHeads(k, n, hk, dk, conv_dim, 1e-6f, 1.0f);

  core::Tensor o = f32(n, hv * dv);
  for (const SequenceSpan& s : batch.sequences) {
    kc::GatedDeltaRuleParams p{.num_tokens = s.length, .num_heads_k = hk, .num_heads_v = hv,
                               .head_dim_k = dk, .head_dim_v = dv, .qk_stride = conv_dim,
                               .v_stride = conv_dim};
    const int64_t off = s.begin * conv_dim;
    float* state = s.state->layer(layer_).recurrent.data();
    if (s.length == 1) {
      kc::GatedDeltaRuleRecurrent(q + off, k + off, v + off, g.data<float>() + s.begin * hv,
                                  beta.data<float>() + s.begin * hv, state,
                                  o.data<float>() + s.begin * hv * dv, p);
    } else {
      kc::GatedDeltaRuleChunked(q + off, k + off, v + off, g.data<float>() + s.begin * hv,
                                beta.data<float>() + s.begin * hv, state,
                                o.data<float>() + s.begin * hv * dv, p);
    }
  }

  kc::GatedRmsNorm(o.data<float>(), z.data<float>(), norm_.data<float>(), o.data<float>(), n * hv,
                   dv, static_cast<float>(c.rms_norm_eps));
  core::Tensor out = f32(n, h);
  kc::Linear(o.data<float>(), out_proj_.data<float>(), nullptr, out.data<float>(), n, h, hv * dv,
             ctx.num_threads);
  return out;
}

}  // namespace qwen::text

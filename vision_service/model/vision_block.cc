#include "vision_service/model/vision_block.h"

#include <cmath>

#include "core/status.h"
#include "kernels/elementwise.h"
#include "kernels/gelu.h"
#include "kernels/layer_norm.h"
#include "kernels/linear.h"
#include "kernels/vision_attention.h"
#include "kernels/vision_rope.h"

namespace qwen::vision {

namespace kc = kernels::cpu;

// nn.LayerNorm(eps=1e-6) in Qwen3_5VisionBlock (not PyTorch's default 1e-5).
constexpr float kLayerNormEps = 1e-6f;

absl::StatusOr<VisionBlock> VisionBlock::Load(const VisionWeightLoader& w,
                                              const core::VisionConfig& c) {
  VisionBlock b;
  b.config_ = &c;
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  QWEN_ASSIGN_OR_RETURN(b.norm1_w_, w.Get("norm1.weight", {h}));
  QWEN_ASSIGN_OR_RETURN(b.norm1_b_, w.Get("norm1.bias", {h}));
  QWEN_ASSIGN_OR_RETURN(b.norm2_w_, w.Get("norm2.weight", {h}));
  QWEN_ASSIGN_OR_RETURN(b.norm2_b_, w.Get("norm2.bias", {h}));
  QWEN_ASSIGN_OR_RETURN(b.qkv_w_, w.Get("attn.qkv.weight", {3 * h, h}));
  QWEN_ASSIGN_OR_RETURN(b.qkv_b_, w.Get("attn.qkv.bias", {3 * h}));
  QWEN_ASSIGN_OR_RETURN(b.proj_w_, w.Get("attn.proj.weight", {h, h}));
  QWEN_ASSIGN_OR_RETURN(b.proj_b_, w.Get("attn.proj.bias", {h}));
  QWEN_ASSIGN_OR_RETURN(b.fc1_w_, w.Get("mlp.linear_fc1.weight", {inter, h}));
  QWEN_ASSIGN_OR_RETURN(b.fc1_b_, w.Get("mlp.linear_fc1.bias", {inter}));
  QWEN_ASSIGN_OR_RETURN(b.fc2_w_, w.Get("mlp.linear_fc2.weight", {h, inter}));
  QWEN_ASSIGN_OR_RETURN(b.fc2_b_, w.Get("mlp.linear_fc2.bias", {h}));
  return b;
}

core::Tensor VisionBlock::Attention(const VisionContext& ctx, const VisionPlan& plan,
                                    const core::Tensor& normed) const {
  const core::VisionConfig& c = *config_;
  const int64_t n = normed.dim(0), h = c.hidden_size, heads = c.num_heads, hd = h / heads;
  core::Tensor qkv = core::Tensor::Zeros({n, 3 * h}, core::DType::kF32);
  kc::Linear(normed.data<float>(), qkv_w_.data<float>(), qkv_b_.data<float>(), qkv.data<float>(), n,
             3 * h, h, ctx.num_threads);
  // HF reshapes the qkv output to [N, 3, heads, hd]: q, k, v blocks of h columns, head-major.
  float* q = qkv.data<float>();
  float* k = q + h;
  const float* v = q + 2 * h;
  const kc::VisionRopeParams rope{.num_tokens = n,
                                  .num_heads = heads,
                                  .head_dim = hd,
                                  .token_stride = 3 * h,
                                  .head_stride = hd,
                                  .theta = c.rope_theta};
  kc::ApplyVisionRope(q, plan.rows.data(), plan.cols.data(), rope);
  kc::ApplyVisionRope(k, plan.rows.data(), plan.cols.data(), rope);

  core::Tensor attn = core::Tensor::Zeros({n, h}, core::DType::kF32);
  // TRAP: non-causal, and frames never attend across each other (cu_seqlens per frame).
  kc::SegmentAttention(q, k, v, plan.cu_seqlens.data(), attn.data<float>(),
                       {.num_segments = static_cast<int64_t>(plan.cu_seqlens.size()) - 1,
                        .num_heads = heads,
                        .head_dim = hd,
                        .q_stride = 3 * h,
                        .kv_stride = 3 * h,
                        .out_stride = h,
                        .scale = 1.0f / std::sqrt(static_cast<float>(hd))});
  core::Tensor out = core::Tensor::Zeros({n, h}, core::DType::kF32);
  kc::Linear(attn.data<float>(), proj_w_.data<float>(), proj_b_.data<float>(), out.data<float>(), n,
             h, h, ctx.num_threads);
  return out;
}

core::Tensor VisionBlock::Mlp(const VisionContext& ctx, const core::Tensor& normed) const {
  const int64_t n = normed.dim(0), h = config_->hidden_size, inter = config_->intermediate_size;
  core::Tensor mid = core::Tensor::Zeros({n, inter}, core::DType::kF32);
  kc::Linear(normed.data<float>(), fc1_w_.data<float>(), fc1_b_.data<float>(), mid.data<float>(), n,
             inter, h, ctx.num_threads);
  // TRAP: hidden_act "gelu_pytorch_tanh" here; the merger uses the exact erf GELU.
  kc::GeluTanh(mid.data<float>(), mid.data<float>(), n * inter);
  core::Tensor out = core::Tensor::Zeros({n, h}, core::DType::kF32);
  kc::Linear(mid.data<float>(), fc2_w_.data<float>(), fc2_b_.data<float>(), out.data<float>(), n, h,
             inter, ctx.num_threads);
  return out;
}

void VisionBlock::Forward(const VisionContext& ctx, const VisionPlan& plan, core::Tensor& x) const {
  const int64_t n = x.dim(0), h = config_->hidden_size;
  const kc::LayerNormParams ln{
      .rows = n, .dim = h, .x_stride = h, .y_stride = h, .eps = kLayerNormEps};
  core::Tensor normed = core::Tensor::Zeros({n, h}, core::DType::kF32);
  kc::LayerNorm(x.data<float>(), norm1_w_.data<float>(), norm1_b_.data<float>(),
                normed.data<float>(), ln);
  core::Tensor attn = Attention(ctx, plan, normed);
  kc::Add(x.data<float>(), attn.data<float>(), x.data<float>(), n * h);
  kc::LayerNorm(x.data<float>(), norm2_w_.data<float>(), norm2_b_.data<float>(),
                normed.data<float>(), ln);
  core::Tensor mlp = Mlp(ctx, normed);
  kc::Add(x.data<float>(), mlp.data<float>(), x.data<float>(), n * h);
}

}  // namespace qwen::vision

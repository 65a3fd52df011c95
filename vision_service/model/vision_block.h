// Qwen3_5VisionBlock with its Qwen3_5VisionAttention and Qwen3_5VisionMLP (MODEL.md 4.4):
//   x = x + proj(Attn(LN1(x)))      qkv with bias, 2-D RoPE, bidirectional per-frame attention
//   x = x + fc2(gelu_tanh(fc1(LN2(x))))
#pragma once

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/tensor.h"
#include "vision_service/model/vision_context.h"
#include "vision_service/model/vision_grid.h"
#include "vision_service/model/vision_weight_loader.h"

namespace qwen::vision {

class VisionBlock {
 public:
  // Reads prefix + norm1/norm2.{weight,bias}, attn.qkv/attn.proj.{weight,bias} and
  // mlp.linear_fc1/mlp.linear_fc2.{weight,bias}.
  static absl::StatusOr<VisionBlock> Load(const VisionWeightLoader& w,
                                          const core::VisionConfig& config);
  // x: f32 [N, Hvis], updated in place; `plan` gives each row's patch coordinates and frame.
  void Forward(const VisionContext& ctx, const VisionPlan& plan, core::Tensor& x) const;

 private:
  core::Tensor Attention(const VisionContext& ctx, const VisionPlan& plan,
                         const core::Tensor& normed) const;
  core::Tensor Mlp(const VisionContext& ctx, const core::Tensor& normed) const;

  const core::VisionConfig* config_ = nullptr;
  core::Tensor norm1_w_, norm1_b_;  // f32 [Hvis]
  core::Tensor norm2_w_, norm2_b_;  // f32 [Hvis]
  core::Tensor qkv_w_;              // f32 [3*Hvis, Hvis]; output [q | k | v], each head-major
  core::Tensor qkv_b_;              // f32 [3*Hvis]
  core::Tensor proj_w_, proj_b_;    // f32 [Hvis, Hvis], [Hvis]
  core::Tensor fc1_w_, fc1_b_;      // f32 [Ivis, Hvis], [Ivis]
  core::Tensor fc2_w_, fc2_b_;      // f32 [Hvis, Ivis], [Hvis]
};

}  // namespace qwen::vision

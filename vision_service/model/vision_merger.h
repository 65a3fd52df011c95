// Qwen3_5VisionPatchMerger (use_postshuffle_norm = False, MODEL.md 4.5): LayerNorm on every patch
// token, then each run of m*m consecutive tokens (one merge block, in (0,0), (0,1), (1,0), (1,1)
// order) concatenated into one vector, then fc2(gelu_erf(fc1(.))).
#pragma once

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/tensor.h"
#include "vision_service/model/vision_context.h"
#include "vision_service/model/vision_weight_loader.h"

namespace qwen::vision {

class VisionMerger {
 public:
  // Reads prefix + norm.{weight,bias} [Hvis], linear_fc1.{weight,bias} [m²Hvis, m²Hvis] / [m²Hvis],
  // linear_fc2.{weight,bias} [out_hidden, m²Hvis] / [out_hidden].
  static absl::StatusOr<VisionMerger> Load(const VisionWeightLoader& w,
                                           const core::VisionConfig& config);
  // x: f32 [N, Hvis] (N a multiple of m²) -> f32 [N / m², out_hidden].
  core::Tensor Forward(const VisionContext& ctx, const core::Tensor& x) const;

 private:
  const core::VisionConfig* config_ = nullptr;
  core::Tensor norm_w_, norm_b_;  // f32 [Hvis]
  core::Tensor fc1_w_, fc1_b_;    // f32 [m²Hvis, m²Hvis], [m²Hvis]
  core::Tensor fc2_w_, fc2_b_;    // f32 [out_hidden, m²Hvis], [out_hidden]
};

}  // namespace qwen::vision

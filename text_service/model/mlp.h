// Qwen3_5MLP: down_proj(silu(gate_proj(x)) * up_proj(x)) (MODEL.md 2.8).
#pragma once

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/tensor.h"
#include "text_service/model/forward_context.h"
#include "text_service/model/weight_loader.h"

namespace qwen::text {

class Mlp {
 public:
  // Reads prefix + {gate_proj,up_proj,down_proj}.weight.
  static absl::StatusOr<Mlp> Load(const WeightLoader& w, const core::TextConfig& config);
  // x: f32 [n, H] -> f32 [n, H].
  core::Tensor Forward(const ForwardContext& ctx, const core::Tensor& x) const;

 private:
  core::Tensor gate_proj_;  // f32 [I, H]
  core::Tensor up_proj_;    // f32 [I, H]
  core::Tensor down_proj_;  // f32 [H, I]
};

}  // namespace qwen::text

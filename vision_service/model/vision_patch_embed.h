// Qwen3_5VisionPatchEmbed: Conv3d(C -> Hvis, kernel = stride = (Tp, P, P), bias) applied to each
// pixel_values row, i.e. a linear layer over the flattened (c, t, y, x) patch vector
// (MODEL.md 4.1).
#pragma once

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/tensor.h"
#include "vision_service/model/vision_context.h"
#include "vision_service/model/vision_weight_loader.h"

namespace qwen::vision {

class VisionPatchEmbed {
 public:
  // Reads prefix + proj.weight [Hvis, C, Tp, P, P] and proj.bias [Hvis].
  static absl::StatusOr<VisionPatchEmbed> Load(const VisionWeightLoader& w,
                                               const core::VisionConfig& config);
  // C * Tp * P * P (1536 for the shipped configs): the width of a pixel_values row.
  int64_t patch_dim() const { return weight_.dim(1); }
  // pixels: f32 [N, patch_dim] -> f32 [N, Hvis].
  core::Tensor Forward(const VisionContext& ctx, const core::Tensor& pixels) const;

 private:
  core::Tensor weight_;  // f32 [Hvis, C*Tp*P*P]: the conv kernel flattened in C order (c, t, y, x)
  core::Tensor bias_;    // f32 [Hvis]
};

}  // namespace qwen::vision

// Qwen3_5GatedDeltaNet: the linear-attention layer (MODEL.md 2.7). Multi-token spans run the
// chunked form of the delta rule, single-token spans (decode) the recurrent form; both continue
// from and update the sequence's conv and recurrent state.
#pragma once

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/tensor.h"
#include "text_service/model/forward_batch.h"
#include "text_service/model/forward_context.h"
#include "text_service/model/weight_loader.h"

namespace qwen::text {

class GatedDeltaNet {
 public:
  // Reads prefix + {in_proj_qkv,in_proj_z,in_proj_b,in_proj_a,conv1d,out_proj,norm}.weight,
  // dt_bias and A_log.
  static absl::StatusOr<GatedDeltaNet> Load(const WeightLoader& w, const core::TextConfig& config,
                                            int64_t layer_index);
  // x: f32 [N, H] (after input_layernorm) -> f32 [N, H].
  core::Tensor Forward(const ForwardContext& ctx, const core::Tensor& x,
                       const ForwardBatch& batch) const;

 private:
  const core::TextConfig* config_ = nullptr;
  int64_t layer_ = 0;
  core::Tensor in_proj_qkv_;  // f32 [2*Hk*Dk + Hv*Dv, H], rows [q | k | v], head-major
  core::Tensor in_proj_z_;    // f32 [Hv*Dv, H]
  core::Tensor in_proj_b_;    // f32 [Hv, H]
  core::Tensor in_proj_a_;    // f32 [Hv, H]
  core::Tensor conv_;         // f32 [conv_dim, Kc] (checkpoint [conv_dim, 1, Kc])
  core::Tensor dt_bias_;      // f32 [Hv]
  core::Tensor a_log_;        // f32 [Hv]
  core::Tensor norm_;         // f32 [Dv]; TRAP: plain weight, no (1 + w)
  core::Tensor out_proj_;     // f32 [H, Hv*Dv]
};

}  // namespace qwen::text

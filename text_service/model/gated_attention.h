// Qwen3_5Attention: gated full attention with q/k norm, partial interleaved M-RoPE, GQA and a KV
// cache (MODEL.md 2.5).
#pragma once

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/tensor.h"
#include "text_service/model/forward_batch.h"
#include "text_service/model/forward_context.h"
#include "text_service/model/weight_loader.h"

namespace qwen::text {

class GatedAttention {
 public:
  // Reads prefix + {q_proj,k_proj,v_proj,o_proj,q_norm,k_norm}.weight.
  static absl::StatusOr<GatedAttention> Load(const WeightLoader& w, const core::TextConfig& config,
                                             int64_t layer_index);
  // x: f32 [N, H] (after input_layernorm) -> f32 [N, H]. Appends this layer's K/V of every new
  // token to each sequence's cache.
  core::Tensor Forward(const ForwardContext& ctx, const core::Tensor& x,
                       const ForwardBatch& batch) const;

 private:
  const core::TextConfig* config_ = nullptr;
  int64_t layer_ = 0;
  core::Tensor q_proj_;  // f32 [2*Hq*D, H]; TRAP: per head [query_h (D) | gate_h (D)]
  core::Tensor k_proj_;  // f32 [Hkv*D, H]
  core::Tensor v_proj_;  // f32 [Hkv*D, H]
  core::Tensor o_proj_;  // f32 [H, Hq*D]
  core::Tensor q_norm_;  // f32 [D], zero-centred
  core::Tensor k_norm_;  // f32 [D], zero-centred
};

}  // namespace qwen::text

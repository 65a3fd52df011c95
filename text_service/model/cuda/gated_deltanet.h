// Qwen3_5GatedDeltaNet on the GPU (MODEL.md 2.7): fused input projection, causal conv + SiLU over
// the sequences' conv state slots, L2-normalised q/k, the gated delta rule (chunked varlen for
// prefill and multi-token continuation, the recurrent kernel for pure decode steps), the gated
// RMSNorm and the output projection.
#pragma once

#include <cuda_bf16.h>

#include "absl/status/status.h"
#include "text_service/model/cuda/device_weights.h"
#include "text_service/model/cuda/step.h"

namespace qwen::text::cuda {

// x: bf16 [N, H] (after input_layernorm) -> out: bf16 [N, H]. conv_pool: f32 [slots, Kc-1,
// conv_dim] and state_pool: f32 [slots, Hv, Dk, Dv] of this layer, updated for every sequence of
// the step.
absl::Status GatedDeltaNetForward(const Step& s, const DeviceGatedDeltaNet& w, float* conv_pool,
                                  float* state_pool, const __nv_bfloat16* x, __nv_bfloat16* out);

}  // namespace qwen::text::cuda

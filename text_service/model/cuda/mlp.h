// Qwen3_5MLP on the GPU (MODEL.md 2.8): down_proj(silu(gate) * up) with gate|up in one GEMM.
#pragma once

#include <cuda_bf16.h>

#include "absl/status/status.h"
#include "text_service/model/cuda/device_weights.h"
#include "text_service/model/cuda/step.h"

namespace qwen::text::cuda {

// x: bf16 [N, H] (after post_attention_layernorm) -> out: bf16 [N, H].
absl::Status MlpForward(const Step& s, const DeviceLayer& layer, const __nv_bfloat16* x,
                        __nv_bfloat16* out);

}  // namespace qwen::text::cuda

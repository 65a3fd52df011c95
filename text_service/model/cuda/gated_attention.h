// Qwen3_5Attention on the GPU (MODEL.md 2.5): q (per-head [query | gate]) and fused k|v
// projections, per-head zero-centred q/k RMSNorm, interleaved M-RoPE, append to the paged KV
// cache, causal GQA paged attention, sigmoid output gate and o_proj.
#pragma once

#include <cuda_bf16.h>

#include "absl/status/status.h"
#include "text_service/model/cuda/device_weights.h"
#include "text_service/model/cuda/step.h"

namespace qwen::text::cuda {

// x: bf16 [N, H] (after input_layernorm) -> out: bf16 [N, H]. k_pages / v_pages: this layer's
// pools bf16 [num_pages, page_size, Hkv, Da]; the new tokens' K/V are appended first.
absl::Status GatedAttentionForward(const Step& s, const DeviceGatedAttention& w,
                                   __nv_bfloat16* k_pages, __nv_bfloat16* v_pages,
                                   const __nv_bfloat16* x, __nv_bfloat16* out);

}  // namespace qwen::text::cuda

// One Qwen3_5VisionBlock on the GPU (MODEL.md 4.4), in the CPU block's op order
// (vision_service/model/vision_block.cc):
//   normed = LN1(x); qkv = normed·Wqkvᵀ + b; RoPE(q), RoPE(k); a = SegmentAttention(q, k, v);
//   x = x + (a·Wprojᵀ + b)
//   normed = LN2(x); x = x + fc2(gelu_tanh(fc1(normed)))
// bf16 activations and residual stream (as HF runs the bf16 checkpoint); fp32 statistics,
// accumulation, RoPE and softmax inside the kernels; fc1's bias and GELU round once.
#pragma once

#include "absl/status/status.h"
#include "vision_service/model/cuda/device_weights.h"
#include "vision_service/model/cuda/vision_step.h"

namespace qwen::vision::cuda {

// Updates s.ws->hidden [N, Hvis] in place; uses normed, mix, qkv, attn, mid and act as scratch.
absl::Status VisionBlockForward(const VisionStep& s, const DeviceVisionBlock& w);

}  // namespace qwen::vision::cuda

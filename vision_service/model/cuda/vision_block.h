// One Qwen3_5VisionBlock on the GPU (MODEL.md 4.4), in the CPU block's op order
// (vision_service/model/vision_block.cc):
//   normed = LN1(x); qkv = normed·Wqkvᵀ + b; RoPE(q), RoPE(k); a = SegmentAttention(q, k, v);
//   x = x + (a·Wprojᵀ + b)
//   normed = LN2(x); x = x + fc2(gelu_tanh(fc1(normed)))
// bf16 activations and residual stream (as HF runs the bf16 checkpoint); fp32 statistics,
// accumulation, RoPE and softmax inside the kernels. Each linear layer's product stays fp32 and
// its bias is added by the kernel after it, rounding once: qkv's with the RoPE, proj's and fc2's
// with the residual add and the LayerNorm that follows, fc1's with the GELU. The block's LN1 is
// therefore computed before it (by the previous block, or on its own before the first block), and
// the LayerNorm after it (the next block's LN1, or the merger's norm) by its last kernel.
#pragma once

#include "absl/status/status.h"
#include "vision_service/model/cuda/device_weights.h"
#include "vision_service/model/cuda/vision_step.h"

namespace qwen::vision::cuda {

// A LayerNorm's weights: bf16 [Hvis] each.
struct VisionNormWeights {
  const bf16* w = nullptr;
  const bf16* b = nullptr;
};

// On entry s.ws->normed holds LN1(hidden) of this block. Updates s.ws->hidden [N, Hvis] in place
// and leaves next(hidden) in s.ws->normed; uses qkv, attn, mid and act as scratch.
absl::Status VisionBlockForward(const VisionStep& s, const DeviceVisionBlock& w,
                                const VisionNormWeights& next);

}  // namespace qwen::vision::cuda

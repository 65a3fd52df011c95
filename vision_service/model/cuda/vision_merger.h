// Qwen3_5VisionPatchMerger on the GPU (MODEL.md 4.5, CPU twin vision_service/model/
// vision_merger.cc): LayerNorm on every patch token, the [N, Hvis] result read as
// [N/m², m²Hvis] (rows are in merge-block order, so that is the m x m concatenation), then
// fc2(gelu_erf(fc1(.))), fc1's bias and GELU rounding once. TRAP: the norm runs per patch token
// (over Hvis) BEFORE the m*m concat, so it is the LayerNorm after the last block: that block's
// residual kernel computes it (vision_block.h), and the merger starts from its output.
#pragma once

#include "absl/status/status.h"
#include "vision_service/model/cuda/device_weights.h"
#include "vision_service/model/cuda/vision_step.h"

namespace qwen::vision::cuda {

// Reads s.ws->normed = merger.norm(hidden) [N, Hvis] (w.norm_w / w.norm_b applied by the caller);
// writes s.ws->out bf16 [N/m², out_hidden_size]; uses mid and act as scratch.
absl::Status VisionMergerForward(const VisionStep& s, const DeviceVisionMerger& w);

}  // namespace qwen::vision::cuda

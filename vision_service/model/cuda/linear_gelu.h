// The first half of both MLPs of the encoder (each block's, MODEL.md 4.4, and the merger's, 4.5):
// act = gelu(x Wᵀ + b), the product kept in fp32 so that the bias add and the GELU round to bf16
// once.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "absl/status/status.h"
#include "kernels/cuda/vision.h"
#include "vision_service/model/cuda/vision_step.h"

namespace qwen::vision::cuda {

// x: bf16 [rows, in]; w: bf16 [out, in]; b: bf16 [out]. Leaves bf16 [rows, out] in s.ws->act,
// using s.ws->mid for the fp32 product. `what` names the layer in errors.
absl::Status LinearBiasGelu(const VisionStep& s, const __nv_bfloat16* x, const __nv_bfloat16* w,
                            const __nv_bfloat16* b, int64_t rows, int64_t in, int64_t out,
                            kernels::cuda::GeluKind kind, const char* what);

}  // namespace qwen::vision::cuda

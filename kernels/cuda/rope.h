// CUDA interleaved multimodal RoPE with partial rotary and half-split (NeoX) rotation, in place on
// bf16 q/k (MODEL.md 2.6). Same math as kernels/cpu/rope.cc: inv_freq computed on the host in fp32
// exactly as the reference, angle = float(position) * inv_freq (one fp32 product), cos/sin and
// the rotation in fp32, one rounding to bf16. (HF rounds cos/sin to bf16 and rotates in bf16; we
// keep fp32, a bf16-level difference.)
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <array>
#include <cstdint>

namespace qwen::kernels::cuda {

struct MRopeParams {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;                          // D (256); only the first rotary_dim dims rotate
  int64_t rotary_dim = 0;                        // R (64): even, <= head_dim, <= 256
  int64_t token_stride = 0;                      // elements between consecutive tokens' first head
  int64_t head_stride = 0;                       // elements between consecutive heads of one token
  double theta = 0.0;                            // rope_theta
  std::array<int, 3> mrope_section = {0, 0, 0};  // T/H/W slot counts, sum == rotary_dim / 2
};

// x: bf16, head h of token t at x + t*token_stride + h*head_stride, rotated in place (e.g. q inside
// the [T, Hq, 2D] q|gate projection with head_stride 2D). positions: [3, num_tokens] on the device
// (rows T, H, W), int64 or int32. Slot i uses axis H if i % 3 == 1 and i < 3*section[1], W if
// i % 3 == 2 and i < 3*section[2], else T; pairs (i, i + R/2) rotate.
cudaError_t ApplyMRope(__nv_bfloat16* x, const int64_t* positions, const MRopeParams& p,
                       cudaStream_t stream);
cudaError_t ApplyMRope(__nv_bfloat16* x, const int32_t* positions, const MRopeParams& p,
                       cudaStream_t stream);

}  // namespace qwen::kernels::cuda

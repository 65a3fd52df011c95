// CUDA bidirectional segment attention of the vision encoder (MODEL.md 4.4; the CPU reference is
// kernels/vision_attention.h SegmentAttention): every temporal slice of every image / video is its
// own segment, tokens attend to every token of their segment and no other. Tensor-core flash
// attention: bf16 q/k/v, fp32 softmax and accumulation, one rounding of the output to bf16. Two
// kernels compute it: warpgroup MMA (wgmma) on compute capability 9.0 for head dims <= 72
// (vision_attention_sm90.cu), mma.sync everywhere else (detail/flash_attention.cuh).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen::kernels::cuda {

enum class SegmentAttentionKernel : int {
  kAuto = 0,     // wgmma where it runs (compute capability 9.0, head_dim <= 72), else mma.sync
  kMmaSync = 1,  // the sm_80+ tensor-core kernel, any head dim (forced: the tests compare both)
  kWgmma = 2,    // the sm_90a kernel; cudaErrorNotSupported on other devices or head dims
};

// "auto", "mma.sync" or "wgmma".
const char* SegmentAttentionKernelName(SegmentAttentionKernel kernel);

// The kernel kAuto runs for `head_dim` on a device of compute capability major.minor.
SegmentAttentionKernel SegmentAttentionKernelFor(int major, int minor, int64_t head_dim);

struct SegmentAttentionParams {
  int64_t num_tokens = 0;    // N = cu_seqlens[num_segments]
  int64_t num_segments = 0;  // cu_seqlens has num_segments + 1 entries
  int64_t num_heads = 0;
  int64_t head_dim = 0;    // hd_v: a multiple of 8, <= 128 (64 and 72 in Qwen3.5)
  int64_t q_stride = 0;    // elements between consecutive tokens of q (multiple of 8)
  int64_t kv_stride = 0;   // elements between consecutive tokens of k and of v (multiple of 8)
  int64_t out_stride = 0;  // elements between consecutive tokens of out (even)
  float scale = 0.0f;      // head_dim^-1/2
  SegmentAttentionKernel kernel = SegmentAttentionKernel::kAuto;
};

// q, k, v: bf16, token t head h at [t * stride + h * head_dim] (e.g. the three thirds of the
// [N, 3 * Hvis] qkv projection after the vision RoPE), 16-byte aligned; cu_seqlens: int32
// [num_segments + 1] on the device (cu[0] = 0, non-decreasing; empty segments allowed).
// out: bf16, token t head h at [t * out_stride + h * head_dim].
cudaError_t SegmentAttention(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                             const int32_t* cu_seqlens, __nv_bfloat16* out,
                             const SegmentAttentionParams& p, cudaStream_t stream);

}  // namespace qwen::kernels::cuda

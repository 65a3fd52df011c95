#include "vision_service/model/cuda/vision_block.h"

#include <cmath>

#include "core/cuda/cuda_status.h"
#include "kernels/cuda/vision.h"
#include "kernels/cuda/vision_attention.h"
#include "vision_service/model/cuda/linear_gelu.h"

namespace qwen::vision::cuda {

namespace kcu = ::qwen::kernels::cuda;

namespace {

// x = x + bf16(product + bias), then normed = norm(x): one kernel, rounding where Gemm with a bias,
// Add and LayerNorm round.
absl::Status ResidualAndNorm(const VisionStep& s, const bf16* bias, const VisionNormWeights& norm,
                             const char* what) {
  const VisionWorkspace& ws = *s.ws;
  const int64_t h = s.config->hidden_size;
  return core::cuda::CudaStatus(
      kcu::BiasResidualLayerNorm(ws.mid, bias, ws.hidden, norm.w, norm.b, ws.normed,
                                 {.rows = s.num_patches,
                                  .dim = h,
                                  .acc_stride = h,
                                  .residual_stride = h,
                                  .normed_stride = h,
                                  .eps = kVisionLayerNormEps},
                                 s.stream),
      what);
}

// Leaves the attention output's fp32 projection (no bias) in ws.mid [N, Hvis].
absl::Status Attention(const VisionStep& s, const DeviceVisionBlock& w) {
  const core::VisionConfig& c = *s.config;
  const VisionWorkspace& ws = *s.ws;
  const int64_t n = s.num_patches, h = c.hidden_size, heads = c.num_heads, hd = h / heads;
  QWEN_CUDA_RETURN_IF_ERROR(kcu::GemmF32Out(*s.cublas, ws.normed, w.qkv_w, nullptr, ws.mid,
                                            {.m = n, .n = 3 * h, .k = h}, s.stream),
                            "vision attn.qkv GEMM");
  // HF reshapes qkv to [N, 3, heads, hd]: q and k are the first 2 * heads heads of each row, all
  // rotated alike; v is only biased.
  QWEN_CUDA_RETURN_IF_ERROR(kcu::BiasVisionRope(ws.mid, w.qkv_b, ws.qkv, s.rows, s.cols,
                                                {.num_tokens = n,
                                                 .num_heads = 2 * heads,
                                                 .head_dim = hd,
                                                 .dim = 3 * h,
                                                 .acc_stride = 3 * h,
                                                 .out_stride = 3 * h,
                                                 .theta = c.rope_theta},
                                                s.stream),
                            "vision qkv bias + RoPE");
  // TRAP: non-causal, and frames never attend across each other (one segment per frame).
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::SegmentAttention(ws.qkv, ws.qkv + h, ws.qkv + 2 * h, s.cu_seqlens, ws.attn,
                            {.num_tokens = n,
                             .num_segments = s.num_segments,
                             .num_heads = heads,
                             .head_dim = hd,
                             .q_stride = 3 * h,
                             .kv_stride = 3 * h,
                             .out_stride = h,
                             .scale = 1.0f / std::sqrt(static_cast<float>(hd))},
                            s.stream),
      "vision segment attention");
  QWEN_CUDA_RETURN_IF_ERROR(kcu::GemmF32Out(*s.cublas, ws.attn, w.proj_w, nullptr, ws.mid,
                                            {.m = n, .n = h, .k = h}, s.stream),
                            "vision attn.proj GEMM");
  return absl::OkStatus();
}

// Leaves fc2's fp32 product (no bias) in ws.mid [N, Hvis].
absl::Status Mlp(const VisionStep& s, const DeviceVisionBlock& w) {
  const core::VisionConfig& c = *s.config;
  const VisionWorkspace& ws = *s.ws;
  const int64_t n = s.num_patches, h = c.hidden_size, inter = c.intermediate_size;
  // TRAP: hidden_act "gelu_pytorch_tanh" here; the merger uses the exact erf GELU.
  QWEN_RETURN_IF_ERROR(LinearBiasGelu(s, ws.normed, w.fc1_w, w.fc1_b, n, h, inter,
                                      kcu::GeluKind::kTanh, "vision mlp.linear_fc1"));
  QWEN_CUDA_RETURN_IF_ERROR(kcu::GemmF32Out(*s.cublas, ws.act, w.fc2_w, nullptr, ws.mid,
                                            {.m = n, .n = h, .k = inter}, s.stream),
                            "vision mlp.linear_fc2 GEMM");
  return absl::OkStatus();
}

}  // namespace

absl::Status VisionBlockForward(const VisionStep& s, const DeviceVisionBlock& w,
                                const VisionNormWeights& next) {
  QWEN_RETURN_IF_ERROR(Attention(s, w));
  // The residual stream is bf16 (as in HF): each add rounds once.
  QWEN_RETURN_IF_ERROR(ResidualAndNorm(s, w.proj_b, {.w = w.norm2_w, .b = w.norm2_b},
                                       "vision attention residual add + norm2"));
  QWEN_RETURN_IF_ERROR(Mlp(s, w));
  return ResidualAndNorm(s, w.fc2_b, next, "vision mlp residual add + the next norm");
}

}  // namespace qwen::vision::cuda

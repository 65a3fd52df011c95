#include "vision_service/model/cuda/vision_block.h"

#include <cmath>

#include "core/cuda/cuda_status.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/vision.h"
#include "kernels/cuda/vision_attention.h"

namespace qwen::vision::cuda {

namespace kcu = ::qwen::kernels::cuda;

namespace {

absl::Status Attention(const VisionStep& s, const DeviceVisionBlock& w) {
  const core::VisionConfig& c = *s.config;
  const VisionWorkspace& ws = *s.ws;
  const int64_t n = s.num_patches, h = c.hidden_size, heads = c.num_heads, hd = h / heads;
  QWEN_CUDA_RETURN_IF_ERROR(kcu::Gemm(*s.cublas, ws.normed, w.qkv_w, w.qkv_b, ws.qkv,
                                      {.m = n, .n = 3 * h, .k = h}, s.stream),
                            "vision attn.qkv GEMM");
  // HF reshapes qkv to [N, 3, heads, hd]: q and k are the first 2 * heads heads of each row, all
  // rotated alike, so one launch covers both.
  QWEN_CUDA_RETURN_IF_ERROR(kcu::ApplyVisionRope(ws.qkv, s.rows, s.cols,
                                                 {.num_tokens = n,
                                                  .num_heads = 2 * heads,
                                                  .head_dim = hd,
                                                  .token_stride = 3 * h,
                                                  .head_stride = hd,
                                                  .theta = c.rope_theta},
                                                 s.stream),
                            "vision RoPE");
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
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::Gemm(*s.cublas, ws.attn, w.proj_w, w.proj_b, ws.mix, {.m = n, .n = h, .k = h}, s.stream),
      "vision attn.proj GEMM");
  return absl::OkStatus();
}

absl::Status Mlp(const VisionStep& s, const DeviceVisionBlock& w) {
  const core::VisionConfig& c = *s.config;
  const VisionWorkspace& ws = *s.ws;
  const int64_t n = s.num_patches, h = c.hidden_size, inter = c.intermediate_size;
  // fc1's product stays fp32 so that its bias add and the GELU round to bf16 once.
  QWEN_CUDA_RETURN_IF_ERROR(kcu::GemmF32Out(*s.cublas, ws.normed, w.fc1_w, nullptr, ws.mid,
                                            {.m = n, .n = inter, .k = h}, s.stream),
                            "vision mlp.linear_fc1 GEMM");
  // TRAP: hidden_act "gelu_pytorch_tanh" here; the merger uses the exact erf GELU.
  QWEN_CUDA_RETURN_IF_ERROR(kcu::BiasGelu(ws.mid, w.fc1_b, ws.act,
                                          {.rows = n,
                                           .cols = inter,
                                           .x_stride = inter,
                                           .out_stride = inter,
                                           .kind = kcu::GeluKind::kTanh},
                                          s.stream),
                            "vision mlp bias + gelu_tanh");
  QWEN_CUDA_RETURN_IF_ERROR(kcu::Gemm(*s.cublas, ws.act, w.fc2_w, w.fc2_b, ws.mix,
                                      {.m = n, .n = h, .k = inter}, s.stream),
                            "vision mlp.linear_fc2 GEMM");
  return absl::OkStatus();
}

}  // namespace

absl::Status VisionBlockForward(const VisionStep& s, const DeviceVisionBlock& w) {
  const VisionWorkspace& ws = *s.ws;
  const int64_t n = s.num_patches, h = s.config->hidden_size;
  const kcu::LayerNormParams ln{
      .rows = n, .dim = h, .x_stride = h, .y_stride = h, .eps = kVisionLayerNormEps};
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::LayerNorm(ws.hidden, w.norm1_w, w.norm1_b, ws.normed, ln, s.stream), "vision norm1");
  QWEN_RETURN_IF_ERROR(Attention(s, w));
  // The residual stream is bf16 (as in HF): each add rounds once.
  QWEN_CUDA_RETURN_IF_ERROR(kcu::Add(ws.hidden, ws.mix, ws.hidden, n * h, s.stream),
                            "vision attention residual add");
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::LayerNorm(ws.hidden, w.norm2_w, w.norm2_b, ws.normed, ln, s.stream), "vision norm2");
  QWEN_RETURN_IF_ERROR(Mlp(s, w));
  QWEN_CUDA_RETURN_IF_ERROR(kcu::Add(ws.hidden, ws.mix, ws.hidden, n * h, s.stream),
                            "vision mlp residual add");
  return absl::OkStatus();
}

}  // namespace qwen::vision::cuda

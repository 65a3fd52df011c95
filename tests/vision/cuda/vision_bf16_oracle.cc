#include "tests/vision/cuda/vision_bf16_oracle.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/dtype.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "kernels/elementwise.h"
#include "kernels/gelu.h"
#include "kernels/layer_norm.h"
#include "kernels/linear.h"
#include "kernels/vision_attention.h"
#include "kernels/vision_pos_embed.h"
#include "kernels/vision_rope.h"
#include "vision_service/model/vision_weight_loader.h"

namespace qwen::testing {

namespace kc = ::qwen::kernels::cpu;
using core::DType;
using core::Tensor;

namespace {

constexpr float kEps = 1e-6f;  // nn.LayerNorm(eps=1e-6) of the blocks and the merger

struct BlockWeights {
  Tensor norm1_w, norm1_b, norm2_w, norm2_b, qkv_w, qkv_b, proj_w, proj_b, fc1_w, fc1_b, fc2_w,
      fc2_b;
};

}  // namespace

struct VisionBf16Oracle::Weights {
  Tensor patch_w, patch_b, pos;  // [H, patch_dim], [H], [S*S, H]
  std::vector<BlockWeights> blocks;
  Tensor merger_norm_w, merger_norm_b, merger_fc1_w, merger_fc1_b, merger_fc2_w, merger_fc2_b;
};

VisionBf16Oracle::~VisionBf16Oracle() = default;

void VisionBf16Oracle::Round(float* x, int64_t n) const {
  if (!round_) return;
  for (int64_t i = 0; i < n; ++i) x[i] = core::BF16ToF32(core::F32ToBF16(x[i]));
}

absl::StatusOr<std::unique_ptr<VisionBf16Oracle>> VisionBf16Oracle::Load(
    const std::filesystem::path& model_dir, bool round_bf16) {
  QWEN_ASSIGN_OR_RETURN(core::ModelConfig config, core::LoadModelConfig(model_dir));
  if (!config.vision.has_value()) return absl::InvalidArgumentError("no vision_config");
  QWEN_ASSIGN_OR_RETURN(core::Checkpoint ckpt, core::Checkpoint::Open(model_dir));
  std::unique_ptr<VisionBf16Oracle> o(new VisionBf16Oracle());
  o->round_ = round_bf16;
  o->config_ = *config.vision;
  const core::VisionConfig& c = o->config_;
  o->pos_side_ = std::llround(std::sqrt(double(c.num_position_embeddings)));
  o->w_ = std::make_unique<Weights>();
  Weights& w = *o->w_;
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  const int64_t k = c.in_channels * c.temporal_patch_size * c.patch_size * c.patch_size;
  const int64_t merged = h * c.spatial_merge_size * c.spatial_merge_size;
  vision::VisionWeightLoader root(&ckpt, config.vision_weight_prefix);
  auto get = [&o](const vision::VisionWeightLoader& l, const std::string& name,
                  const core::Shape& shape, Tensor& dst) -> absl::Status {
    QWEN_ASSIGN_OR_RETURN(dst, l.Get(name, shape));
    o->Round(dst.data<float>(), dst.numel());  // the CUDA encoder's weights are bf16
    return absl::OkStatus();
  };
  QWEN_RETURN_IF_ERROR(get(root, "patch_embed.proj.weight",
                           {h, c.in_channels, c.temporal_patch_size, c.patch_size, c.patch_size},
                           w.patch_w));
  w.patch_w = w.patch_w.Reshaped({h, k});
  QWEN_RETURN_IF_ERROR(get(root, "patch_embed.proj.bias", {h}, w.patch_b));
  QWEN_RETURN_IF_ERROR(get(root, "pos_embed.weight", {c.num_position_embeddings, h}, w.pos));
  w.blocks.resize(static_cast<size_t>(c.depth));
  for (int64_t j = 0; j < c.depth; ++j) {
    const vision::VisionWeightLoader l = root.Sub(absl::StrCat("blocks.", j, "."));
    BlockWeights& b = w.blocks[static_cast<size_t>(j)];
    QWEN_RETURN_IF_ERROR(get(l, "norm1.weight", {h}, b.norm1_w));
    QWEN_RETURN_IF_ERROR(get(l, "norm1.bias", {h}, b.norm1_b));
    QWEN_RETURN_IF_ERROR(get(l, "norm2.weight", {h}, b.norm2_w));
    QWEN_RETURN_IF_ERROR(get(l, "norm2.bias", {h}, b.norm2_b));
    QWEN_RETURN_IF_ERROR(get(l, "attn.qkv.weight", {3 * h, h}, b.qkv_w));
    QWEN_RETURN_IF_ERROR(get(l, "attn.qkv.bias", {3 * h}, b.qkv_b));
    QWEN_RETURN_IF_ERROR(get(l, "attn.proj.weight", {h, h}, b.proj_w));
    QWEN_RETURN_IF_ERROR(get(l, "attn.proj.bias", {h}, b.proj_b));
    QWEN_RETURN_IF_ERROR(get(l, "mlp.linear_fc1.weight", {inter, h}, b.fc1_w));
    QWEN_RETURN_IF_ERROR(get(l, "mlp.linear_fc1.bias", {inter}, b.fc1_b));
    QWEN_RETURN_IF_ERROR(get(l, "mlp.linear_fc2.weight", {h, inter}, b.fc2_w));
    QWEN_RETURN_IF_ERROR(get(l, "mlp.linear_fc2.bias", {h}, b.fc2_b));
  }
  const vision::VisionWeightLoader m = root.Sub("merger.");
  QWEN_RETURN_IF_ERROR(get(m, "norm.weight", {h}, w.merger_norm_w));
  QWEN_RETURN_IF_ERROR(get(m, "norm.bias", {h}, w.merger_norm_b));
  QWEN_RETURN_IF_ERROR(get(m, "linear_fc1.weight", {merged, merged}, w.merger_fc1_w));
  QWEN_RETURN_IF_ERROR(get(m, "linear_fc1.bias", {merged}, w.merger_fc1_b));
  QWEN_RETURN_IF_ERROR(get(m, "linear_fc2.weight", {c.out_hidden_size, merged}, w.merger_fc2_w));
  QWEN_RETURN_IF_ERROR(get(m, "linear_fc2.bias", {c.out_hidden_size}, w.merger_fc2_b));
  return o;
}

absl::StatusOr<Tensor> VisionBf16Oracle::Embeds(const Tensor& pixel_values,
                                                std::span<const vision::GridThw> grids,
                                                int num_threads) const {
  const core::VisionConfig& c = config_;
  const Weights& w = *w_;
  const int64_t h = c.hidden_size, heads = c.num_heads, hd = h / heads;
  const int64_t inter = c.intermediate_size, m = c.spatial_merge_size;
  const int64_t k = w.patch_w.dim(1);
  if (pixel_values.rank() != 2 || pixel_values.dim(1) != k) {
    return absl::InvalidArgumentError("oracle: pixel_values must be [N, patch_dim]");
  }
  QWEN_ASSIGN_OR_RETURN(vision::VisionPlan plan,
                        vision::PlanVisionBatch(grids, pixel_values.dim(0), m));
  const int64_t n = plan.num_patches;
  Tensor pixels = pixel_values.ToF32();
  Round(pixels.data<float>(), pixels.numel());

  // Patch embedding + position embedding (vision_model.cc Forward / AddPositionEmbeddings).
  Tensor x = Tensor::Zeros({n, h}, DType::kF32);
  kc::Linear(pixels.data<float>(), w.patch_w.data<float>(), w.patch_b.data<float>(),
             x.data<float>(), n, h, k, num_threads);
  Round(x.data<float>(), n * h);
  for (size_t i = 0; i < grids.size(); ++i) {
    const vision::GridThw& g = grids[i];
    const int64_t frame = g.h * g.w;
    Tensor pe = Tensor::Zeros({frame, h}, DType::kF32);
    kc::BilinearPosEmbed(
        w.pos.data<float>(), pe.data<float>(),
        {.side = pos_side_, .dim = h, .height = g.h, .width = g.w, .merge_size = m});
    for (int64_t f = 0; f < g.t; ++f) {
      float* rows = x.data<float>() + (plan.patch_offsets[i] + f * frame) * h;
      kc::Add(rows, pe.data<float>(), rows, frame * h);
      Round(rows, frame * h);
    }
  }

  // Blocks (vision_block.cc).
  const kc::LayerNormParams ln{.rows = n, .dim = h, .x_stride = h, .y_stride = h, .eps = kEps};
  Tensor normed = Tensor::Zeros({n, h}, DType::kF32);
  Tensor qkv = Tensor::Zeros({n, 3 * h}, DType::kF32);
  Tensor attn = Tensor::Zeros({n, h}, DType::kF32);
  Tensor mix = Tensor::Zeros({n, h}, DType::kF32);
  Tensor mid = Tensor::Zeros({n, inter}, DType::kF32);
  for (const BlockWeights& b : w.blocks) {
    kc::LayerNorm(x.data<float>(), b.norm1_w.data<float>(), b.norm1_b.data<float>(),
                  normed.data<float>(), ln);
    Round(normed.data<float>(), n * h);
    kc::Linear(normed.data<float>(), b.qkv_w.data<float>(), b.qkv_b.data<float>(),
               qkv.data<float>(), n, 3 * h, h, num_threads);
    Round(qkv.data<float>(), n * 3 * h);
    float* q = qkv.data<float>();
    const kc::VisionRopeParams rope{.num_tokens = n,
                                    .num_heads = heads,
                                    .head_dim = hd,
                                    .token_stride = 3 * h,
                                    .head_stride = hd,
                                    .theta = c.rope_theta};
    kc::ApplyVisionRope(q, plan.rows.data(), plan.cols.data(), rope);
    kc::ApplyVisionRope(q + h, plan.rows.data(), plan.cols.data(), rope);
    Round(qkv.data<float>(), n * 3 * h);  // v is already bf16: rounding it again is a no-op
    kc::SegmentAttention(q, q + h, q + 2 * h, plan.cu_seqlens.data(), attn.data<float>(),
                         {.num_segments = static_cast<int64_t>(plan.cu_seqlens.size()) - 1,
                          .num_heads = heads,
                          .head_dim = hd,
                          .q_stride = 3 * h,
                          .kv_stride = 3 * h,
                          .out_stride = h,
                          .scale = 1.0f / std::sqrt(static_cast<float>(hd))});
    Round(attn.data<float>(), n * h);
    kc::Linear(attn.data<float>(), b.proj_w.data<float>(), b.proj_b.data<float>(),
               mix.data<float>(), n, h, h, num_threads);
    Round(mix.data<float>(), n * h);
    kc::Add(x.data<float>(), mix.data<float>(), x.data<float>(), n * h);
    Round(x.data<float>(), n * h);

    kc::LayerNorm(x.data<float>(), b.norm2_w.data<float>(), b.norm2_b.data<float>(),
                  normed.data<float>(), ln);
    Round(normed.data<float>(), n * h);
    // fc1 + bias stay fp32 up to the GELU (GemmF32Out + the fused BiasGelu).
    kc::Linear(normed.data<float>(), b.fc1_w.data<float>(), b.fc1_b.data<float>(),
               mid.data<float>(), n, inter, h, num_threads);
    kc::GeluTanh(mid.data<float>(), mid.data<float>(), n * inter);
    Round(mid.data<float>(), n * inter);
    kc::Linear(mid.data<float>(), b.fc2_w.data<float>(), b.fc2_b.data<float>(), mix.data<float>(),
               n, h, inter, num_threads);
    Round(mix.data<float>(), n * h);
    kc::Add(x.data<float>(), mix.data<float>(), x.data<float>(), n * h);
    Round(x.data<float>(), n * h);
  }

  // Merger (vision_merger.cc).
  const int64_t unit = m * m, merged = h * unit, rows = n / unit, out_hidden = c.out_hidden_size;
  kc::LayerNorm(x.data<float>(), w.merger_norm_w.data<float>(), w.merger_norm_b.data<float>(),
                normed.data<float>(), ln);
  Round(normed.data<float>(), n * h);
  Tensor merged_mid = Tensor::Zeros({rows, merged}, DType::kF32);
  kc::Linear(normed.data<float>(), w.merger_fc1_w.data<float>(), w.merger_fc1_b.data<float>(),
             merged_mid.data<float>(), rows, merged, merged, num_threads);
  kc::GeluErf(merged_mid.data<float>(), merged_mid.data<float>(), rows * merged);
  Round(merged_mid.data<float>(), rows * merged);
  Tensor out = Tensor::Zeros({rows, out_hidden}, DType::kF32);
  kc::Linear(merged_mid.data<float>(), w.merger_fc2_w.data<float>(), w.merger_fc2_b.data<float>(),
             out.data<float>(), rows, out_hidden, merged, num_threads);
  Round(out.data<float>(), rows * out_hidden);
  return out;
}

float MaxAbsDiffOrInf(const float* a, const float* b, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float d = std::fabs(a[i] - b[i]);
    if (std::isnan(d)) return std::numeric_limits<float>::infinity();
    if (d > m) m = d;
  }
  return m;
}

}  // namespace qwen::testing

#include "vision_service/model/vision_model.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "kernels/elementwise.h"
#include "kernels/vision_pos_embed.h"

namespace qwen::vision {

absl::StatusOr<std::unique_ptr<VisionModel>> VisionModel::Load(const std::filesystem::path& dir) {
  QWEN_ASSIGN_OR_RETURN(core::ModelConfig config, core::LoadModelConfig(dir));
  QWEN_ASSIGN_OR_RETURN(core::Checkpoint ckpt, core::Checkpoint::Open(dir));
  return Load(ckpt, config);
}

absl::Status ValidateVisionConfig(const core::VisionConfig& c) {
  if (c.hidden_act != "gelu_pytorch_tanh") {
    return absl::InvalidArgumentError(
        absl::StrCat("vision_config.hidden_act = \"", c.hidden_act,
                     "\" is not supported (Qwen3.5 vision blocks use \"gelu_pytorch_tanh\")"));
  }
  if (c.hidden_size < 1 || c.num_heads < 1 || c.hidden_size % c.num_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("vision hidden_size ", c.hidden_size,
                                                   " is not a positive multiple of ", "num_heads ",
                                                   c.num_heads));
  }
  const int64_t head_dim = c.hidden_size / c.num_heads;
  if (head_dim % 4 != 0) {
    // The axial RoPE splits each head into row and column halves of head_dim/4 frequencies.
    return absl::InvalidArgumentError(absl::StrCat("vision head dim ", c.hidden_size, " / ",
                                                   c.num_heads, " = ", head_dim,
                                                   " is not a multiple of 4 (2-D RoPE)"));
  }
  if (c.spatial_merge_size < 1) {
    return absl::InvalidArgumentError("vision_config.spatial_merge_size must be >= 1");
  }
  if (c.depth < 0 || c.intermediate_size < 1 || c.out_hidden_size < 1 || c.in_channels < 1 ||
      c.temporal_patch_size < 1 || c.patch_size < 1 || c.num_position_embeddings < 1) {
    return absl::InvalidArgumentError(
        "vision_config sizes (depth, intermediate_size, out_hidden_size, in_channels, "
        "temporal_patch_size, patch_size, num_position_embeddings) must be positive");
  }
  const int64_t side =
      static_cast<int64_t>(std::llround(std::sqrt(double(c.num_position_embeddings))));
  if (side * side != c.num_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vision num_position_embeddings ", c.num_position_embeddings, " is not a perfect square"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<VisionModel>> VisionModel::Load(core::Checkpoint& ckpt,
                                                               const core::ModelConfig& config) {
  if (!config.vision.has_value()) {
    return absl::FailedPreconditionError(
        "the model config has no vision_config: this checkpoint cannot encode images or videos");
  }
  std::unique_ptr<VisionModel> m(new VisionModel());
  m->config_ = *config.vision;
  const core::VisionConfig& c = m->config_;
  QWEN_RETURN_IF_ERROR(ValidateVisionConfig(c));
  m->pos_side_ = static_cast<int64_t>(std::llround(std::sqrt(double(c.num_position_embeddings))));

  const std::string& prefix = config.vision_weight_prefix;
  VisionWeightLoader root(&ckpt, prefix);
  QWEN_ASSIGN_OR_RETURN(m->patch_embed_, VisionPatchEmbed::Load(root.Sub("patch_embed."), c));
  QWEN_ASSIGN_OR_RETURN(m->pos_embed_,
                        root.Get("pos_embed.weight", {c.num_position_embeddings, c.hidden_size}));
  for (int64_t j = 0; j < c.depth; ++j) {
    QWEN_ASSIGN_OR_RETURN(VisionBlock block,
                          VisionBlock::Load(root.Sub(absl::StrCat("blocks.", j, ".")), c));
    m->blocks_.push_back(std::move(block));
  }
  QWEN_ASSIGN_OR_RETURN(m->merger_, VisionMerger::Load(root.Sub("merger."), c));
  std::vector<std::string> unused = ckpt.Unused({prefix});
  if (!unused.empty()) {
    if (unused.size() > 5) unused.resize(5);
    // e.g. more blocks than vision_config.depth, or DeepStack mergers (not part of Qwen3.5).
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint has vision tensors the config does not explain: ",
                     absl::StrJoin(unused, ", ")));
  }
  return m;
}

void VisionModel::AddPositionEmbeddings(const VisionPlan& plan, std::span<const GridThw> grids,
                                        core::Tensor& x) const {
  const int64_t dim = config_.hidden_size;
  for (size_t i = 0; i < grids.size(); ++i) {
    const GridThw& g = grids[i];
    const int64_t frame = g.h * g.w;
    core::Tensor pe = core::Tensor::Zeros({frame, dim}, core::DType::kF32);
    kernels::cpu::BilinearPosEmbed(pos_embed_.data<float>(), pe.data<float>(),
                                   {.side = pos_side_,
                                    .dim = dim,
                                    .height = g.h,
                                    .width = g.w,
                                    .merge_size = config_.spatial_merge_size});
    // The same embedding for every temporal index of a video.
    for (int64_t f = 0; f < g.t; ++f) {
      float* rows = x.data<float>() + (plan.patch_offsets[i] + f * frame) * dim;
      kernels::cpu::Add(rows, pe.data<float>(), rows, frame * dim);
    }
  }
}

absl::StatusOr<VisionOutput> VisionModel::Forward(const VisionContext& ctx,
                                                  const core::Tensor& pixel_values,
                                                  std::span<const GridThw> grids) const {
  if (pixel_values.device() != core::Device::kCpu) {
    return absl::InvalidArgumentError("pixel_values must be a CPU tensor for the CPU encoder");
  }
  if (pixel_values.rank() != 2 || pixel_values.dim(1) != patch_dim()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pixel_values must be [num_patches, ", patch_dim(), "] (channels x temporal_patch_size x ",
        "patch_size²), got ", core::ShapeToString(pixel_values.shape())));
  }
  if (!core::IsFloating(pixel_values.dtype())) {
    return absl::InvalidArgumentError(absl::StrCat("pixel_values must be F32, BF16 or F16, got ",
                                                   core::DTypeName(pixel_values.dtype())));
  }
  QWEN_ASSIGN_OR_RETURN(VisionPlan plan,
                        PlanVisionBatch(grids, pixel_values.dim(0), config_.spatial_merge_size));
  const core::Tensor pixels =
      pixel_values.dtype() == core::DType::kF32 ? pixel_values : pixel_values.ToF32();

  core::Tensor x = patch_embed_.Forward(ctx, pixels);
  AddPositionEmbeddings(plan, grids, x);
  for (const VisionBlock& block : blocks_) block.Forward(ctx, plan, x);
  VisionOutput out;
  out.embeds = merger_.Forward(ctx, x);
  out.item_offsets = std::move(plan.merged_offsets);
  return out;
}

}  // namespace qwen::vision

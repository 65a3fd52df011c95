#include "vision_service/server/vision_model_encoder.h"

#include "core/status.h"
#include "vision_service/model/vision_model.h"

namespace qwen::vision {

EncoderInfo MakeEncoderInfo(const core::VisionConfig& c, int64_t patch_dim) {
  return {.patch_size = c.patch_size,
          .temporal_patch_size = c.temporal_patch_size,
          .spatial_merge_size = c.spatial_merge_size,
          .out_hidden_size = c.out_hidden_size,
          .patch_dim = patch_dim};
}

EncoderInfo VisionModelEncoder::info() const {
  return MakeEncoderInfo(model_->config(), model_->patch_dim());
}

absl::StatusOr<BatchEncoderOutput> VisionModelEncoder::Encode(const core::Tensor& pixels,
                                                              std::span<const ItemGrid> grids) {
  std::vector<GridThw> model_grids;
  model_grids.reserve(grids.size());
  for (const ItemGrid& g : grids) model_grids.push_back({.t = g.t, .h = g.h, .w = g.w});
  QWEN_ASSIGN_OR_RETURN(VisionOutput out, model_->Forward(ctx_, pixels, model_grids));
  return BatchEncoderOutput{.embeds = std::move(out.embeds),
                            .item_offsets = std::move(out.item_offsets)};
}

}  // namespace qwen::vision

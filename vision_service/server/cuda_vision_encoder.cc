#include "vision_service/server/cuda_vision_encoder.h"

#include <vector>

#include "core/status.h"
#include "vision_service/model/cuda/cuda_vision_model.h"
#include "vision_service/server/vision_model_encoder.h"

namespace qwen::vision {

EncoderInfo CudaVisionEncoder::info() const {
  return MakeEncoderInfo(model_->config(), model_->patch_dim());
}

absl::StatusOr<BatchEncoderOutput> CudaVisionEncoder::Encode(const core::Tensor& pixels,
                                                             std::span<const ItemGrid> grids) {
  std::vector<GridThw> model_grids;
  model_grids.reserve(grids.size());
  for (const ItemGrid& g : grids) model_grids.push_back({.t = g.t, .h = g.h, .w = g.w});
  QWEN_ASSIGN_OR_RETURN(VisionOutput out, model_->Forward(pixels, model_grids));
  return BatchEncoderOutput{.embeds = std::move(out.embeds),
                            .item_offsets = std::move(out.item_offsets)};
}

}  // namespace qwen::vision

// BatchEncoder over the CPU VisionModel. The model header is included only by the .cc (its GridThw
// clashes with the pre-processing one; see encode_types.h).
#pragma once

#include "core/config.h"
#include "vision_service/model/vision_context.h"
#include "vision_service/server/batch_encoder.h"

namespace qwen::vision {

class VisionModel;

// The scheduler's view of an encoder of vision config `c` whose pixel rows are `patch_dim` wide
// (shared by the CPU and CUDA encoders).
EncoderInfo MakeEncoderInfo(const core::VisionConfig& c, int64_t patch_dim);

class VisionModelEncoder final : public BatchEncoder {
 public:
  // `model` must outlive the encoder.
  VisionModelEncoder(const VisionModel* model, VisionContext ctx) : model_(model), ctx_(ctx) {}

  EncoderInfo info() const override;
  absl::StatusOr<BatchEncoderOutput> Encode(const core::Tensor& pixels,
                                            std::span<const ItemGrid> grids) override;

 private:
  const VisionModel* model_;
  VisionContext ctx_;
};

}  // namespace qwen::vision

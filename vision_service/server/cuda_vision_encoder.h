// BatchEncoder over the CUDA vision encoder (vision_service/model/cuda): the same batches, item
// offsets and validation as the CPU encoder, bf16 on the GPU. The model header is included only by
// the .cc (its GridThw clashes with the pre-processing one; see encode_types.h).
#pragma once

#include "vision_service/server/batch_encoder.h"

namespace qwen::vision {

namespace cuda {
class CudaVisionModel;
}

class CudaVisionEncoder final : public BatchEncoder {
 public:
  // `model` must outlive the encoder; the scheduler's one batcher thread is its only user.
  explicit CudaVisionEncoder(cuda::CudaVisionModel* model) : model_(model) {}

  EncoderInfo info() const override;
  // A batch over the model's max_patches is InvalidArgument (the model's message names both).
  absl::StatusOr<BatchEncoderOutput> Encode(const core::Tensor& pixels,
                                            std::span<const ItemGrid> grids) override;

 private:
  cuda::CudaVisionModel* model_;
};

}  // namespace qwen::vision

#include "vision_service/model/cuda/batch_metadata.h"

namespace qwen::vision::cuda {

VisionMetadataLayout VisionMetadataLayoutFor(int64_t num_segments, int64_t num_patches) {
  VisionMetadataLayout l;
  l.num_segments = num_segments;
  l.cu_seqlens = 0;
  l.rows = l.cu_seqlens + num_segments + 1;
  l.cols = l.rows + num_patches;
  l.size = l.cols + num_patches;
  return l;
}

VisionMetadataLayout PackVisionMetadata(const VisionPlan& plan, int32_t* dst) {
  const VisionMetadataLayout l =
      VisionMetadataLayoutFor(static_cast<int64_t>(plan.cu_seqlens.size()) - 1, plan.num_patches);
  for (int64_t i = 0; i <= l.num_segments; ++i) {
    dst[l.cu_seqlens + i] = static_cast<int32_t>(plan.cu_seqlens[static_cast<size_t>(i)]);
  }
  for (int64_t n = 0; n < plan.num_patches; ++n) {
    dst[l.rows + n] = static_cast<int32_t>(plan.rows[static_cast<size_t>(n)]);
    dst[l.cols + n] = static_cast<int32_t>(plan.cols[static_cast<size_t>(n)]);
  }
  return l;
}

}  // namespace qwen::vision::cuda

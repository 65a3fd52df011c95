// The per-batch metadata the encoder's kernels read on the device, packed on the host into one
// i32 buffer and uploaded with one copy:
//   [cu_seqlens (num_segments + 1) | rows (N) | cols (N)]
// cu_seqlens: the attention segments (one per temporal slice of every item, MODEL.md 4.4);
// rows / cols: each pixel row's un-merged patch coordinates for the 2-D RoPE (MODEL.md 4.3).
#pragma once

#include <cstdint>

#include "vision_service/model/vision_grid.h"

namespace qwen::vision::cuda {

struct VisionMetadataLayout {
  int64_t num_segments = 0;
  int64_t cu_seqlens = 0;  // element offsets into the buffer
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t size = 0;  // elements used
};

// Elements PackVisionMetadata needs for a plan of `num_patches` rows, at most: every segment has
// at least one row, so num_segments <= N.
inline int64_t VisionMetadataElems(int64_t num_patches) { return 3 * num_patches + 1; }

// The layout of a batch of `num_segments` segments over `num_patches` rows.
VisionMetadataLayout VisionMetadataLayoutFor(int64_t num_segments, int64_t num_patches);

// Writes `plan` (from PlanVisionBatch, so every value fits an i32 once num_patches does) into
// `dst`, which holds at least VisionMetadataElems(plan.num_patches) elements; returns its layout.
VisionMetadataLayout PackVisionMetadata(const VisionPlan& plan, int32_t* dst);

}  // namespace qwen::vision::cuda

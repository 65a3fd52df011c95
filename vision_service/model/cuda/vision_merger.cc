#include "vision_service/model/cuda/vision_merger.h"

#include "core/cuda/cuda_status.h"
#include "kernels/cuda/vision.h"
#include "vision_service/model/cuda/linear_gelu.h"

namespace qwen::vision::cuda {

namespace kcu = ::qwen::kernels::cuda;

absl::Status VisionMergerForward(const VisionStep& s, const DeviceVisionMerger& w) {
  const core::VisionConfig& c = *s.config;
  const VisionWorkspace& ws = *s.ws;
  const int64_t n = s.num_patches, h = c.hidden_size;
  const int64_t unit = c.spatial_merge_size * c.spatial_merge_size;
  const int64_t merged = h * unit, rows = n / unit, out_hidden = c.out_hidden_size;
  // ws.normed = merger.norm(hidden) per patch token, [N, Hvis] read as [N/m², m²Hvis].
  // TRAP: nn.GELU() (exact erf form) here, unlike the tanh GELU inside the blocks.
  QWEN_RETURN_IF_ERROR(LinearBiasGelu(s, ws.normed, w.fc1_w, w.fc1_b, rows, merged, merged,
                                      kcu::GeluKind::kErf, "vision merger.linear_fc1"));
  QWEN_CUDA_RETURN_IF_ERROR(kcu::Gemm(*s.cublas, ws.act, w.fc2_w, w.fc2_b, ws.out,
                                      {.m = rows, .n = out_hidden, .k = merged}, s.stream),
                            "vision merger.linear_fc2 GEMM");
  return absl::OkStatus();
}

}  // namespace qwen::vision::cuda

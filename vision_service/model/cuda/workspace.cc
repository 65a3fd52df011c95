#include "vision_service/model/cuda/workspace.h"

#include <algorithm>

#include "core/cuda/device_memory.h"
#include "vision_service/model/cuda/batch_metadata.h"

namespace qwen::vision::cuda {
namespace {

int64_t MergeUnit(const core::VisionConfig& c) {
  return c.spatial_merge_size * c.spatial_merge_size;
}

}  // namespace

size_t LayoutVisionWorkspace(const core::VisionConfig& c, int64_t max_patches, char* base,
                             VisionWorkspace* out) {
  VisionWorkspace w;
  const int64_t n = max_patches, h = c.hidden_size;
  const int64_t patch_dim = c.in_channels * c.temporal_patch_size * c.patch_size * c.patch_size;
  core::cuda::Carver persistent(base);
  w.pixels = persistent.Take<__nv_bfloat16>(n * patch_dim);
  w.metadata = persistent.Take<int32_t>(VisionMetadataElems(n));
  w.hidden = persistent.Take<__nv_bfloat16>(n * h);
  w.normed = persistent.Take<__nv_bfloat16>(n * h);
  w.out = persistent.Take<__nv_bfloat16>(n / MergeUnit(c) * c.out_hidden_size);
  // The merger's fc1 is [N/m², m²Hvis] = N * Hvis elements, within N * 3 * Hvis.
  w.mid = persistent.Take<float>(n * std::max(c.intermediate_size, 3 * h));
  const size_t scratch = persistent.at();

  core::cuda::Carver attention(base, scratch);
  w.qkv = attention.Take<__nv_bfloat16>(n * 3 * h);
  w.attn = attention.Take<__nv_bfloat16>(n * h);

  core::cuda::Carver mlp(base, scratch);
  w.act = mlp.Take<__nv_bfloat16>(n * std::max(c.intermediate_size, h));

  if (out != nullptr) *out = w;
  return std::max(attention.at(), mlp.at());
}

int64_t VisionBiasScratchElems(const core::VisionConfig& c, int64_t max_patches) {
  const int64_t n = max_patches, h = c.hidden_size;
  return std::max(n * h, n / MergeUnit(c) * c.out_hidden_size);
}

}  // namespace qwen::vision::cuda

#include "vision_service/model/vision_patch_embed.h"

#include "core/status.h"
#include "kernels/linear.h"

namespace qwen::vision {

absl::StatusOr<VisionPatchEmbed> VisionPatchEmbed::Load(const VisionWeightLoader& w,
                                                        const core::VisionConfig& c) {
  VisionPatchEmbed e;
  const int64_t k = c.in_channels * c.temporal_patch_size * c.patch_size * c.patch_size;
  QWEN_ASSIGN_OR_RETURN(core::Tensor conv,
                        w.Get("proj.weight", {c.hidden_size, c.in_channels, c.temporal_patch_size,
                                              c.patch_size, c.patch_size}));
  // The stride equals the kernel, so each output is one dot product of the kernel with one patch;
  // the processor flattens patches in the kernel's own (c, t, y, x) order.
  e.weight_ = conv.Reshaped({c.hidden_size, k});
  QWEN_ASSIGN_OR_RETURN(e.bias_, w.Get("proj.bias", {c.hidden_size}));
  return e;
}

core::Tensor VisionPatchEmbed::Forward(const VisionContext& ctx, const core::Tensor& pixels) const {
  const int64_t n = pixels.dim(0), hidden = weight_.dim(0);
  core::Tensor out = core::Tensor::Zeros({n, hidden}, core::DType::kF32);
  kernels::cpu::Linear(pixels.data<float>(), weight_.data<float>(), bias_.data<float>(),
                       out.data<float>(), n, hidden, patch_dim(), ctx.num_threads);
  return out;
}

}  // namespace qwen::vision

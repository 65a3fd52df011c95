#include "vision_service/model/vision_merger.h"

#include "core/status.h"
#include "kernels/gelu.h"
#include "kernels/layer_norm.h"
#include "kernels/linear.h"

namespace qwen::vision {

namespace kc = kernels::cpu;

absl::StatusOr<VisionMerger> VisionMerger::Load(const VisionWeightLoader& w,
                                                const core::VisionConfig& c) {
  VisionMerger m;
  m.config_ = &c;
  const int64_t h = c.hidden_size;
  const int64_t merged = h * c.spatial_merge_size * c.spatial_merge_size;
  QWEN_ASSIGN_OR_RETURN(m.norm_w_, w.Get("norm.weight", {h}));
  QWEN_ASSIGN_OR_RETURN(m.norm_b_, w.Get("norm.bias", {h}));
  QWEN_ASSIGN_OR_RETURN(m.fc1_w_, w.Get("linear_fc1.weight", {merged, merged}));
  QWEN_ASSIGN_OR_RETURN(m.fc1_b_, w.Get("linear_fc1.bias", {merged}));
  QWEN_ASSIGN_OR_RETURN(m.fc2_w_, w.Get("linear_fc2.weight", {c.out_hidden_size, merged}));
  QWEN_ASSIGN_OR_RETURN(m.fc2_b_, w.Get("linear_fc2.bias", {c.out_hidden_size}));
  return m;
}

core::Tensor VisionMerger::Forward(const VisionContext& ctx, const core::Tensor& x) const {
  const core::VisionConfig& c = *config_;
  const int64_t n = x.dim(0), h = c.hidden_size;
  const int64_t unit = c.spatial_merge_size * c.spatial_merge_size;
  const int64_t merged = h * unit, rows = n / unit, out_hidden = c.out_hidden_size;
  // TRAP: the norm runs per patch token (over Hvis) BEFORE the m*m concat. Because tokens arrive in
  // merge-block order, the [N, Hvis] buffer read as [N/m², m²Hvis] is exactly the concatenation.
  core::Tensor normed = core::Tensor::Zeros({rows, merged}, core::DType::kF32);
  kc::LayerNorm(x.data<float>(), norm_w_.data<float>(), norm_b_.data<float>(), normed.data<float>(),
                {.rows = n, .dim = h, .x_stride = h, .y_stride = h, .eps = 1e-6f});
  core::Tensor mid = core::Tensor::Zeros({rows, merged}, core::DType::kF32);
  kc::Linear(normed.data<float>(), fc1_w_.data<float>(), fc1_b_.data<float>(), mid.data<float>(),
             rows, merged, merged, ctx.num_threads);
  // TRAP: nn.GELU() (exact erf form) here, unlike the tanh GELU inside the blocks.
  kc::GeluErf(mid.data<float>(), mid.data<float>(), rows * merged);
  core::Tensor out = core::Tensor::Zeros({rows, out_hidden}, core::DType::kF32);
  kc::Linear(mid.data<float>(), fc2_w_.data<float>(), fc2_b_.data<float>(), out.data<float>(), rows,
             out_hidden, merged, ctx.num_threads);
  return out;
}

}  // namespace qwen::vision

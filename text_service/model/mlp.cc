#include "text_service/model/mlp.h"

#include "core/status.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"

namespace qwen::text {

absl::StatusOr<Mlp> Mlp::Load(const WeightLoader& w, const core::TextConfig& c) {
  Mlp m;
  QWEN_ASSIGN_OR_RETURN(m.gate_proj_, w.Get("gate_proj.weight", {c.intermediate_size, c.hidden_size}));
  QWEN_ASSIGN_OR_RETURN(m.up_proj_, w.Get("up_proj.weight", {c.intermediate_size, c.hidden_size}));
  QWEN_ASSIGN_OR_RETURN(m.down_proj_, w.Get("down_proj.weight", {c.hidden_size, c.intermediate_size}));
  return m;
}

core::Tensor Mlp::Forward(const ForwardContext& ctx, const core::Tensor& x) const {
  const int64_t n = x.dim(0), h = x.dim(1), inter = gate_proj_.dim(0);
  core::Tensor gate = core::Tensor::Zeros({n, inter}, core::DType::kF32);
  core::Tensor up = core::Tensor::Zeros({n, inter}, core::DType::kF32);
  kernels::cpu::Linear(x.data<float>(), gate_proj_.data<float>(), nullptr, gate.data<float>(), n,
                       inter, h, ctx.num_threads);
  kernels::cpu::Linear(x.data<float>(), up_proj_.data<float>(), nullptr, up.data<float>(), n, inter,
                       h, ctx.num_threads);
  kernels::cpu::SiluMul(gate.data<float>(), up.data<float>(), gate.data<float>(), n * inter);
  core::Tensor out = core::Tensor::Zeros({n, h}, core::DType::kF32);
  kernels::cpu::Linear(gate.data<float>(), down_proj_.data<float>(), nullptr, out.data<float>(), n,
                       h, inter, ctx.num_threads);
  return out;
}

}  // namespace qwen::text

#include "text_service/model/cuda/mlp.h"

#include "core/cuda/cuda_status.h"
#include "kernels/cuda/elementwise.h"

namespace qwen::text::cuda {

absl::Status MlpForward(const Step& s, const DeviceLayer& layer, const __nv_bfloat16* x,
                        __nv_bfloat16* out) {
  const core::TextConfig& c = *s.config;
  const int64_t n = s.num_tokens(), h = c.hidden_size, inter = c.intermediate_size;
  const Workspace& ws = *s.ws;
  QWEN_RETURN_IF_ERROR(
      Linear(s, x, h, layer.gate_up_proj, ws.gate_up, 2 * inter, n, 2 * inter, h, "mlp gate_up"));
  QWEN_CUDA_RETURN_IF_ERROR(
      kernels::cuda::SiluMul(ws.gate_up, 2 * inter, ws.gate_up + inter, 2 * inter, ws.act, inter,
                             {.rows = n, .cols = inter}, s.stream),
      "mlp SiluMul");
  return Linear(s, ws.act, inter, layer.down_proj, out, h, n, h, inter, "mlp down_proj");
}

}  // namespace qwen::text::cuda

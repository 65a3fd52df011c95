#include "vision_service/model/cuda/linear_gelu.h"

#include "absl/strings/str_cat.h"
#include "core/cuda/cuda_status.h"

namespace qwen::vision::cuda {

namespace kcu = ::qwen::kernels::cuda;

absl::Status LinearBiasGelu(const VisionStep& s, const __nv_bfloat16* x, const __nv_bfloat16* w,
                            const __nv_bfloat16* b, int64_t rows, int64_t in, int64_t out,
                            kcu::GeluKind kind, const char* what) {
  const VisionWorkspace& ws = *s.ws;
  // The labels are built only on failure: this runs twice per block of every forward.
  const cudaError_t gemm =
      kcu::GemmF32Out(*s.cublas, x, w, nullptr, ws.mid, {.m = rows, .n = out, .k = in}, s.stream);
  if (gemm != cudaSuccess) return core::cuda::CudaStatus(gemm, absl::StrCat(what, " GEMM"));
  const cudaError_t gelu = kcu::BiasGelu(
      ws.mid, b, ws.act,
      {.rows = rows, .cols = out, .x_stride = out, .out_stride = out, .kind = kind}, s.stream);
  if (gelu != cudaSuccess) return core::cuda::CudaStatus(gelu, absl::StrCat(what, " bias + GELU"));
  return absl::OkStatus();
}

}  // namespace qwen::vision::cuda

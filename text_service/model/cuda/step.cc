#include "text_service/model/cuda/step.h"

#include "absl/strings/str_cat.h"
#include "core/cuda/cuda_status.h"

namespace qwen::text::cuda {

absl::Status Linear(const Step& s, const __nv_bfloat16* x, int64_t x_stride, const __nv_bfloat16* w,
                    __nv_bfloat16* y, int64_t y_stride, int64_t m, int64_t n, int64_t k,
                    const char* what) {
  const cudaError_t err = kernels::cuda::Gemm(
      *s.cublas, x, w, nullptr, y,
      {.m = m, .n = n, .k = k, .x_stride = x_stride, .y_stride = y_stride}, s.stream);
  if (err == cudaSuccess) return absl::OkStatus();
  return core::cuda::CudaStatus(
      err, absl::StrCat(what, " GEMM [", m, " x ", k, "] x [", n, " x ", k, "]^T (cuBLAS status ",
                        s.cublas->last_cublas_status(), ")"));
}

}  // namespace qwen::text::cuda

// Linear layers on the GPU through cuBLASLt: y = x · Wᵀ (+ bias) with W stored [out, in]
// (PyTorch convention, MODEL.md header), bf16 operands, fp32 accumulation (CUBLAS_COMPUTE_32F).
// The CUDA twin of kernels/cpu Linear (kernels/linear.h).
//
// Mapping: cuBLASLt is column-major, so the row-major y [m, n] is computed as the column-major
// D [n, m] = op(A) · B with A = W (column-major [k, n], ld k, op = T) and B = x (column-major
// [k, m], ld x_stride): the "TN" layout that Hopper's bf16 kernels prefer. A bias adds per output
// feature: through the BIAS epilogue for the fp32 output; for the bf16 output the matmul writes
// fp32 into the context's bias scratch and one kernel adds the bias in fp32 and rounds once to
// bf16 into y (gemm.cc).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace qwen::kernels::cuda {

// A cuBLASLt handle, its workspace and the matmul descriptors + chosen algorithm cached per
// problem (m, n, k, strides, output type, bias, pointer alignment). Owned by the caller (one per
// device and stream user, e.g. in the DeviceContext); not thread-safe (the cache is unguarded).
// Descriptor creation and the heuristic query are host-side only, so Gemm can be captured in a
// CUDA graph once a shape has been seen (or even the first time).
class CublasLt {
 public:
  // Creates the handle and allocates `workspace_bytes` of device memory on the current device
  // (32 MiB is NVIDIA's recommendation for Hopper). Returns a CUDA error (cudaErrorUnknown for a
  // cuBLAS failure other than allocation; last_cublas_status() then has the cuBLAS code).
  static cudaError_t Create(size_t workspace_bytes, std::unique_ptr<CublasLt>* out);
  ~CublasLt();
  CublasLt(const CublasLt&) = delete;
  CublasLt& operator=(const CublasLt&) = delete;

  size_t workspace_bytes() const;

  // The fp32 scratch of the bf16-output GEMM with a bias (the [m, n] matmul result before the bias
  // is added and rounded). Grow-only: Gemm with a bias grows it on demand (cudaMalloc; a smaller
  // buffer is freed, which synchronizes the device), except while `stream` is being captured into
  // a CUDA graph, where a too-small scratch fails with cudaErrorStreamCaptureUnsupported. Reserve
  // max_tokens * max_out_features elements up front to keep allocation out of the hot path.
  cudaError_t ReserveBiasScratch(size_t elems);
  size_t bias_scratch_elems() const;
  size_t cached_plans() const;     // number of cached (shape, layout) plans
  int last_cublas_status() const;  // the cublasStatus_t of the last failing cuBLASLt call, or 0

  struct Impl;                     // defined in gemm.cc
  Impl& impl() { return *impl_; }  // for the launchers in gemm.cc

 private:
  CublasLt();
  std::unique_ptr<Impl> impl_;
};

struct GemmParams {
  int64_t m = 0;         // rows of x and y (tokens)
  int64_t n = 0;         // out features (rows of W)
  int64_t k = 0;         // in features (>= 1)
  int64_t x_stride = 0;  // elements between rows of x; 0 means k
  int64_t y_stride = 0;  // elements between rows of y; 0 means n
};

// Without a bias, 1-2 rows with k and x_stride multiples of 8 and 16-byte aligned x and w skip
// cuBLASLt for a weight-streaming kernel (detail/gemm_small_m.h; same fp32 accumulation, another
// summation order).
//
// y = x · Wᵀ (+ bias). x: bf16 [m, k] (rows x_stride apart); w: bf16 [n, k] contiguous;
// bias: bf16 [n] or nullptr; y: bf16 [m, n] (rows y_stride apart). Without a bias: one cuBLASLt
// matmul with a bf16 output (fp32 accumulation, split-K partial sums reduced in fp32). With a
// bias: the fp32 product into the context's bias scratch (see ReserveBiasScratch), then
// y = bf16(product + bias) with one rounding. Returns cudaErrorInvalidValue
// for bad shapes, cudaErrorNotSupported when cuBLASLt has no algorithm for the problem, or the
// mapped cuBLAS error.
cudaError_t Gemm(CublasLt& ctx, const __nv_bfloat16* x, const __nv_bfloat16* w,
                 const __nv_bfloat16* bias, __nv_bfloat16* y, const GemmParams& p,
                 cudaStream_t stream);

// The same with an fp32 output (e.g. the LM head logits, MODEL.md 2.9): bias f32 [n] or nullptr,
// y: f32 [m, n].
cudaError_t GemmF32Out(CublasLt& ctx, const __nv_bfloat16* x, const __nv_bfloat16* w,
                       const float* bias, float* y, const GemmParams& p, cudaStream_t stream);

}  // namespace qwen::kernels::cuda

// cuBLASLt GEMM launchers (kernels/cuda/gemm.h).
//
// TRAP (bf16 output with a bias): neither of cuBLASLt's ways to add a bias to a bf16 output is
// guaranteed to round acc + bias to bf16 once. The BIAS epilogue may add the bf16 bias in the
// output type after the fp32 accumulator was rounded to bf16 (two roundings; on an H200 that failed
// tests/kernels/cuda/gemm_test.cc for 7 shapes, ~10% over the one-rounding bound; PyTorch moved
// its addmm bias fusion off this epilogue for the same reason). Broadcasting the bias into y and
// running the matmul with beta = 1 (C = D = y) was worse: 8 shapes failed, up to 6x the bound at
// k = 16, the size of rounding acc (of larger magnitude than acc + bias) to bf16 before C is added.
// So the bf16-output bias path is: the matmul with an fp32 output (no bias, nothing rounded) into
// the context's fp32 scratch, then detail::BiasConvertBf16 adds the bias in fp32 and rounds once.
// bf16 outputs also restrict split-K to the reduction schemes that add partial sums in fp32 (NONE,
// COMPUTE_TYPE; never INPLACE or OUTPUT_TYPE). The fp32-output path keeps the BIAS epilogue (fp32
// bias into an fp32 D: nothing is rounded but the fp32 sums).
#include "kernels/cuda/gemm.h"

#include <cublasLt.h>

#include <cstring>
#include <unordered_map>

#include "kernels/cuda/detail/gemm_bias.h"
#include "kernels/cuda/detail/gemm_small_m.h"

namespace qwen::kernels::cuda {
namespace {

cudaError_t FromCublas(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return cudaSuccess;
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return cudaErrorNotSupported;
    case CUBLAS_STATUS_INVALID_VALUE:
      return cudaErrorInvalidValue;
    case CUBLAS_STATUS_ALLOC_FAILED:
      return cudaErrorMemoryAllocation;
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return cudaErrorInitializationError;
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return cudaErrorNoKernelImageForDevice;
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return cudaErrorLaunchFailure;
    default:
      return cudaErrorUnknown;
  }
}

// Largest power of two <= 256 dividing the address (cuBLASLt's alignment preferences).
uint32_t AlignmentOf(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (a == 0) return 256;
  const uintptr_t low = a & (~a + 1);
  return static_cast<uint32_t>(low >= 256 ? 256 : low);
}

struct PlanKey {
  int64_t m, n, k, ldx, ldy;
  int out_type;  // cudaDataType_t of y
  bool bias;     // BIAS epilogue (fp32 output only)
  uint32_t align_x, align_w, align_y;
  bool operator==(const PlanKey& o) const {
    return m == o.m && n == o.n && k == o.k && ldx == o.ldx && ldy == o.ldy &&
           out_type == o.out_type && bias == o.bias && align_x == o.align_x &&
           align_w == o.align_w && align_y == o.align_y;
  }
};

struct PlanKeyHash {
  size_t operator()(const PlanKey& k) const {
    size_t h = 1469598103934665603ull;
    auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    mix(k.m);
    mix(k.n);
    mix(k.k);
    mix(k.ldx);
    mix(k.ldy);
    mix(static_cast<uint64_t>(k.out_type) * 2 + (k.bias ? 1 : 0));
    mix((uint64_t{k.align_x} << 32) ^ (uint64_t{k.align_w} << 16) ^ k.align_y);
    return h;
  }
};

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  ~Plan() {
    if (c != nullptr) cublasLtMatrixLayoutDestroy(c);
    if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
    if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
    if (desc != nullptr) cublasLtMatmulDescDestroy(desc);
  }
};

}  // namespace

struct CublasLt::Impl {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  int last_status = 0;
  float* bias_scratch = nullptr;  // fp32 product of the bf16-output GEMM with a bias
  size_t bias_scratch_elems = 0;
  std::unordered_map<PlanKey, std::unique_ptr<Plan>, PlanKeyHash> plans;

  cudaError_t Fail(cublasStatus_t s) {
    last_status = static_cast<int>(s);
    return FromCublas(s);
  }
};

#define QWEN_CUBLAS_TRY(impl, expr)                                                    \
  do {                                                                                 \
    const cublasStatus_t qwen_cublas_st_ = (expr);                                     \
    if (qwen_cublas_st_ != CUBLAS_STATUS_SUCCESS) return (impl).Fail(qwen_cublas_st_); \
  } while (0)

CublasLt::CublasLt() : impl_(std::make_unique<Impl>()) {}

CublasLt::~CublasLt() {
  impl_->plans.clear();
  if (impl_->bias_scratch != nullptr) cudaFree(impl_->bias_scratch);
  if (impl_->workspace != nullptr) cudaFree(impl_->workspace);
  if (impl_->handle != nullptr) cublasLtDestroy(impl_->handle);
}

cudaError_t CublasLt::Create(size_t workspace_bytes, std::unique_ptr<CublasLt>* out) {
  if (out == nullptr) return cudaErrorInvalidValue;
  std::unique_ptr<CublasLt> ctx(new CublasLt());
  Impl& im = *ctx->impl_;
  QWEN_CUBLAS_TRY(im, cublasLtCreate(&im.handle));
  if (workspace_bytes > 0) {
    const cudaError_t err = cudaMalloc(&im.workspace, workspace_bytes);
    if (err != cudaSuccess) return err;
  }
  im.workspace_bytes = workspace_bytes;
  *out = std::move(ctx);
  return cudaSuccess;
}

size_t CublasLt::workspace_bytes() const { return impl_->workspace_bytes; }
size_t CublasLt::cached_plans() const { return impl_->plans.size(); }
int CublasLt::last_cublas_status() const { return impl_->last_status; }
size_t CublasLt::bias_scratch_elems() const { return impl_->bias_scratch_elems; }

cudaError_t CublasLt::ReserveBiasScratch(size_t elems) {
  Impl& im = *impl_;
  if (elems <= im.bias_scratch_elems) return cudaSuccess;
  float* grown = nullptr;
  const cudaError_t err = cudaMalloc(reinterpret_cast<void**>(&grown), elems * sizeof(float));
  if (err != cudaSuccess) return err;
  // cudaFree waits for the device, so no queued matmul still writes the old buffer.
  if (im.bias_scratch != nullptr) cudaFree(im.bias_scratch);
  im.bias_scratch = grown;
  im.bias_scratch_elems = elems;
  return cudaSuccess;
}

namespace {

cudaError_t BuildPlan(CublasLt::Impl& im, const PlanKey& key, cudaDataType_t out_type,
                      std::unique_ptr<Plan>* out) {
  auto plan = std::make_unique<Plan>();
  QWEN_CUBLAS_TRY(im, cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  QWEN_CUBLAS_TRY(im, cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA,
                                                     &trans_a, sizeof(trans_a)));
  QWEN_CUBLAS_TRY(im, cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB,
                                                     &trans_b, sizeof(trans_b)));
  // Only fp32 outputs take the BIAS epilogue (see the TRAP at the top).
  if (key.bias) {
    const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    QWEN_CUBLAS_TRY(im, cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                                       &epilogue, sizeof(epilogue)));
    const cudaDataType_t bias_type = out_type;  // fp32 bias with the fp32 output
    QWEN_CUBLAS_TRY(im,
                    cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
                                                   &bias_type, sizeof(bias_type)));
  }
  // A = W: column-major [k, n] (ld k), transposed; B = x: column-major [k, m] (ld ldx);
  // C = D = y: column-major [n, m] (ld ldy).
  QWEN_CUBLAS_TRY(im, cublasLtMatrixLayoutCreate(&plan->a, CUDA_R_16BF, key.k, key.n, key.k));
  QWEN_CUBLAS_TRY(im, cublasLtMatrixLayoutCreate(&plan->b, CUDA_R_16BF, key.k, key.m, key.ldx));
  QWEN_CUBLAS_TRY(im, cublasLtMatrixLayoutCreate(&plan->c, out_type, key.n, key.m, key.ldy));

  cublasLtMatmulPreference_t pref = nullptr;
  QWEN_CUBLAS_TRY(im, cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t ws = im.workspace_bytes;
  cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  const uint32_t align_a = key.align_w, align_b = key.align_x, align_c = key.align_y;
  if (st == CUBLAS_STATUS_SUCCESS) {
    st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                              &align_a, sizeof(align_a));
  }
  if (st == CUBLAS_STATUS_SUCCESS) {
    st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                              &align_b, sizeof(align_b));
  }
  if (st == CUBLAS_STATUS_SUCCESS) {
    st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                              &align_c, sizeof(align_c));
  }
  if (st == CUBLAS_STATUS_SUCCESS) {
    st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                              &align_c, sizeof(align_c));
  }
  if (st == CUBLAS_STATUS_SUCCESS && out_type == CUDA_R_16BF) {
    // No split-K, or partial sums added in the fp32 compute type (never rounded to bf16).
    const uint32_t schemes =
        CUBLASLT_REDUCTION_SCHEME_NONE | CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
    st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK,
                                              &schemes, sizeof(schemes));
  }
  cublasLtMatmulHeuristicResult_t result{};
  int returned = 0;
  if (st == CUBLAS_STATUS_SUCCESS) {
    st = cublasLtMatmulAlgoGetHeuristic(im.handle, plan->desc, plan->a, plan->b, plan->c, plan->c,
                                        pref, 1, &result, &returned);
  }
  cublasLtMatmulPreferenceDestroy(pref);
  if (st != CUBLAS_STATUS_SUCCESS) return im.Fail(st);
  if (returned == 0) return im.Fail(CUBLAS_STATUS_NOT_SUPPORTED);
  plan->algo = result.algo;
  *out = std::move(plan);
  return cudaSuccess;
}

cudaError_t RunGemm(CublasLt& ctx, const void* x, const void* w, const void* bias, void* y,
                    cudaDataType_t out_type, const GemmParams& p, cudaStream_t stream) {
  if (p.m < 0 || p.n < 1 || p.k < 1) return cudaErrorInvalidValue;
  const int64_t ldx = p.x_stride == 0 ? p.k : p.x_stride;
  const int64_t ldy = p.y_stride == 0 ? p.n : p.y_stride;
  if (ldx < p.k || ldy < p.n) return cudaErrorInvalidValue;
  if (p.m == 0) return cudaSuccess;
  if (x == nullptr || w == nullptr || y == nullptr) return cudaErrorInvalidValue;
  if (bias != nullptr && out_type != CUDA_R_32F) return cudaErrorInvalidValue;  // see Gemm
  if (bias == nullptr && detail::SmallMGemmApplies(x, w, p.m, p.k, ldx)) {
    // Decode steps of a few sequences: a weight stream, faster than cuBLASLt's kernels there.
    return out_type == CUDA_R_32F
               ? detail::SmallMGemm(static_cast<const __nv_bfloat16*>(x), ldx,
                                    static_cast<const __nv_bfloat16*>(w), static_cast<float*>(y),
                                    ldy, p.m, p.n, p.k, stream)
               : detail::SmallMGemm(static_cast<const __nv_bfloat16*>(x), ldx,
                                    static_cast<const __nv_bfloat16*>(w),
                                    static_cast<__nv_bfloat16*>(y), ldy, p.m, p.n, p.k, stream);
  }
  CublasLt::Impl& im = ctx.impl();
  PlanKey key{};
  key.m = p.m;
  key.n = p.n;
  key.k = p.k;
  key.ldx = ldx;
  key.ldy = ldy;
  key.out_type = static_cast<int>(out_type);
  key.bias = bias != nullptr;
  key.align_x = AlignmentOf(x);
  key.align_w = AlignmentOf(w);
  key.align_y = AlignmentOf(y);
  auto it = im.plans.find(key);
  if (it == im.plans.end()) {
    std::unique_ptr<Plan> plan;
    const cudaError_t err = BuildPlan(im, key, out_type, &plan);
    if (err != cudaSuccess) return err;
    it = im.plans.emplace(key, std::move(plan)).first;
  }
  Plan& plan = *it->second;
  if (bias != nullptr) {
    QWEN_CUBLAS_TRY(im, cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                       &bias, sizeof(bias)));
  }
  const float alpha = 1.0f, beta = 0.0f;
  QWEN_CUBLAS_TRY(
      im, cublasLtMatmul(im.handle, plan.desc, &alpha, w, plan.a, x, plan.b, &beta, y, plan.c, y,
                         plan.c, &plan.algo, im.workspace, im.workspace_bytes, stream));
  return cudaSuccess;
}

}  // namespace

cudaError_t Gemm(CublasLt& ctx, const __nv_bfloat16* x, const __nv_bfloat16* w,
                 const __nv_bfloat16* bias, __nv_bfloat16* y, const GemmParams& p,
                 cudaStream_t stream) {
  if (bias == nullptr) return RunGemm(ctx, x, w, nullptr, y, CUDA_R_16BF, p, stream);
  // fp32 product into the scratch, then y = bf16(product + bias): one rounding (TRAP at the top).
  if (p.m < 0 || p.n < 1 || p.k < 1) return cudaErrorInvalidValue;
  const int64_t ldy = p.y_stride == 0 ? p.n : p.y_stride;
  if (ldy < p.n || (p.x_stride != 0 && p.x_stride < p.k)) return cudaErrorInvalidValue;
  if (p.m == 0) return cudaSuccess;
  if (y == nullptr) return cudaErrorInvalidValue;
  CublasLt::Impl& im = ctx.impl();
  const size_t elems = static_cast<size_t>(p.m) * static_cast<size_t>(p.n);
  if (elems > im.bias_scratch_elems) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    const cudaError_t err = cudaStreamIsCapturing(stream, &capture);
    if (err != cudaSuccess) return err;
    if (capture != cudaStreamCaptureStatusNone) return cudaErrorStreamCaptureUnsupported;
    const cudaError_t grow = ctx.ReserveBiasScratch(elems);
    if (grow != cudaSuccess) return grow;
  }
  GemmParams pf = p;
  pf.y_stride = 0;  // the scratch is contiguous [m, n]
  const cudaError_t err = RunGemm(ctx, x, w, nullptr, im.bias_scratch, CUDA_R_32F, pf, stream);
  if (err != cudaSuccess) return err;
  return detail::BiasConvertBf16(im.bias_scratch, bias, y, p.m, p.n, ldy, stream);
}

cudaError_t GemmF32Out(CublasLt& ctx, const __nv_bfloat16* x, const __nv_bfloat16* w,
                       const float* bias, float* y, const GemmParams& p, cudaStream_t stream) {
  return RunGemm(ctx, x, w, bias, y, CUDA_R_32F, p, stream);
}

}  // namespace qwen::kernels::cuda

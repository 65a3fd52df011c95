#include "core/cuda/device_context.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/cuda/cuda_status.h"
#include "core/logging.h"

namespace qwen::core::cuda {

namespace kcu = ::qwen::kernels::cuda;

bool CudaDeviceAvailable(int device) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return device >= 0 && device < count;
}

absl::StatusOr<std::unique_ptr<DeviceContext>> DeviceContext::Create(
    const DeviceContextOptions& options) {
  int count = 0;
  const cudaError_t count_err = cudaGetDeviceCount(&count);
  if (count_err != cudaSuccess || count == 0) {
    cudaGetLastError();
    return absl::FailedPreconditionError(
        absl::StrCat("no CUDA device is available (", cudaGetErrorString(count_err),
                     "); the CUDA model runs only on a machine with an NVIDIA GPU"));
  }
  if (options.device < 0 || options.device >= count) {
    return absl::FailedPreconditionError(
        absl::StrCat("CUDA device ", options.device, " does not exist (", count, " visible)"));
  }
  std::unique_ptr<DeviceContext> ctx(new DeviceContext());
  ctx->device_ = options.device;
  QWEN_RETURN_IF_ERROR(ctx->Activate());
  cudaDeviceProp prop{};
  QWEN_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, options.device),
                            "querying the CUDA device");
  ctx->name_ = prop.name;
  ctx->cc_major_ = prop.major;
  ctx->cc_minor_ = prop.minor;
  ctx->total_memory_ = prop.totalGlobalMem;
  ctx->max_smem_optin_ = prop.sharedMemPerBlockOptin;
  QWEN_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&ctx->stream_, cudaStreamNonBlocking),
                            "creating the CUDA stream");
  QWEN_CUDA_RETURN_IF_ERROR(kcu::CublasLt::Create(options.cublas_workspace_bytes, &ctx->cublas_),
                            "creating the cuBLASLt context");
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::SelectGdnVariant(options.device, options.gdn_variant, &ctx->gdn_variant_),
      "choosing the Gated DeltaNet kernel variant");
  QWEN_LOG(Info) << "CUDA device: " << ctx->Describe();
  return ctx;
}

DeviceContext::~DeviceContext() {
  if (stream_ != nullptr) {
    cudaSetDevice(device_);
    cudaStreamSynchronize(stream_);
    cublas_.reset();
    cudaStreamDestroy(stream_);
  }
}

absl::Status DeviceContext::Activate() const {
  QWEN_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_),
                            absl::StrCat("selecting CUDA device ", device_));
  return absl::OkStatus();
}

absl::Status DeviceContext::MemoryInfo(size_t* free_bytes, size_t* total_bytes) const {
  QWEN_CUDA_RETURN_IF_ERROR(cudaMemGetInfo(free_bytes, total_bytes), "querying GPU memory");
  return absl::OkStatus();
}

std::string DeviceContext::Describe() const {
  return absl::StrFormat("%s (device %d, sm_%d%d, %.1f GiB): Gated DeltaNet kernels '%s'", name_,
                         device_, cc_major_, cc_minor_,
                         static_cast<double>(total_memory_) / (1024.0 * 1024.0 * 1024.0),
                         kcu::GdnVariantName(gdn_variant_));
}

}  // namespace qwen::core::cuda

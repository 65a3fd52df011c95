// The GPU a CUDA model runs on: device id, its own stream, the cuBLASLt context (handle,
// workspace, plan cache), the compute capability and the Gated DeltaNet kernel variant chosen for
// it (kernels/cuda/gdn_variant.h). Created once in main (or a test) and passed down: no globals,
// no thread_local handles (STYLE.md 6.2.12). Not thread-safe: one user thread at a time.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/cuda/gdn_variant.h"
#include "kernels/cuda/gemm.h"

namespace qwen::core::cuda {

struct DeviceContextOptions {
  int device = 0;
  // kAuto picks by compute capability (GB10 -> kGb10, else kDefault); tests force either one.
  kernels::cuda::GdnVariant gdn_variant = kernels::cuda::GdnVariant::kAuto;
  size_t cublas_workspace_bytes = size_t{32} << 20;  // NVIDIA's recommendation for Hopper
};

class DeviceContext {
 public:
  // FailedPrecondition when no CUDA device is visible (or `device` is out of range); logs the
  // device and the chosen GDN variant once.
  static absl::StatusOr<std::unique_ptr<DeviceContext>> Create(
      const DeviceContextOptions& options = {});
  ~DeviceContext();
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  kernels::cuda::CublasLt& cublas() const { return *cublas_; }
  int cc_major() const { return cc_major_; }
  int cc_minor() const { return cc_minor_; }
  kernels::cuda::GdnVariant gdn_variant() const { return gdn_variant_; }
  const std::string& device_name() const { return name_; }
  // Largest dynamic shared memory one block may opt into (bytes).
  size_t max_shared_memory_per_block() const { return max_smem_optin_; }

  // Makes this device current for the calling thread (cudaSetDevice); every entry point of the
  // model calls it first.
  absl::Status Activate() const;
  // Free and total device memory now (cudaMemGetInfo).
  absl::Status MemoryInfo(size_t* free_bytes, size_t* total_bytes) const;
  // "NVIDIA H100 80GB HBM3 (device 0, sm_90, 79.1 GiB): GDN kernels 'default'".
  std::string Describe() const;

 private:
  DeviceContext() = default;
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<kernels::cuda::CublasLt> cublas_;
  int cc_major_ = 0, cc_minor_ = 0;
  kernels::cuda::GdnVariant gdn_variant_ = kernels::cuda::GdnVariant::kDefault;
  std::string name_;
  size_t total_memory_ = 0;
  size_t max_smem_optin_ = 0;
};

// Does `device` exist? (For tests and the CLI to skip or report cleanly.)
bool CudaDeviceAvailable(int device = 0);

}  // namespace qwen::core::cuda

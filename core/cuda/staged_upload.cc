#include "core/cuda/staged_upload.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/cuda/cuda_status.h"
#include "core/logging.h"
#include "core/status.h"

namespace qwen::core::cuda {

void ConvertFloating(const void* src, DType from, void* dst, DType to, size_t n,
                     std::vector<float>& scratch) {
  QWEN_CHECK(IsFloating(from) && IsFloating(to))
      << "ConvertFloating " << DTypeName(from) << " -> " << DTypeName(to);
  if (from == to) {
    std::memcpy(dst, src, n * DTypeSize(from));
    return;
  }
  if (from == DType::kF32) {
    ConvertFromF32(static_cast<const float*>(src), dst, to, n);
    return;
  }
  if (to == DType::kF32) {
    ConvertToF32(src, from, static_cast<float*>(dst), n);
    return;
  }
  // BF16 <-> F16 through fp32 (exact widening, one rounding), in bounded pieces.
  constexpr size_t kPiece = size_t{1} << 16;
  scratch.resize(std::min(n, kPiece));
  const size_t in_size = DTypeSize(from), out_size = DTypeSize(to);
  for (size_t first = 0; first < n; first += kPiece) {
    const size_t count = std::min(kPiece, n - first);
    ConvertToF32(static_cast<const char*>(src) + first * in_size, from, scratch.data(), count);
    ConvertFromF32(scratch.data(), static_cast<char*>(dst) + first * out_size, to, count);
  }
}

absl::StatusOr<StagedUpload> StagedUpload::Create(cudaStream_t stream, size_t staging_bytes) {
  StagedUpload u;
  u.stream_ = stream;
  QWEN_ASSIGN_OR_RETURN(
      u.staging_, PinnedMemory::Allocate(std::max<size_t>(staging_bytes, 4096), "upload buffer"));
  return u;
}

absl::Status StagedUpload::Copy(const Tensor& src, DType to, void* dst, const std::string& what) {
  if (src.device() != Device::kCpu || !IsFloating(src.dtype()) ||
      (to != DType::kBF16 && to != DType::kF32)) {
    return absl::InvalidArgumentError(absl::StrCat("uploading ", what, ": cannot convert a ",
                                                   DTypeName(src.dtype()), " tensor to ",
                                                   DTypeName(to)));
  }
  const size_t in_size = DTypeSize(src.dtype()), out_size = DTypeSize(to);
  const size_t chunk = staging_.bytes() / out_size;
  const size_t n = static_cast<size_t>(src.numel());
  const char* in = static_cast<const char*>(src.raw_data());
  char* out = static_cast<char*>(dst);
  for (size_t first = 0; first < n; first += chunk) {
    const size_t count = std::min(chunk, n - first);
    // The previous chunk's copy reads the staging buffer until it completes.
    QWEN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_), absl::StrCat("uploading ", what));
    ConvertFloating(in + first * in_size, src.dtype(), staging_.get(), to, count, scratch_);
    QWEN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(out + first * out_size, staging_.get(),
                                              count * out_size, cudaMemcpyHostToDevice, stream_),
                              absl::StrCat("uploading ", what));
  }
  return absl::OkStatus();
}

absl::Status StagedUpload::Finish() {
  return CudaStatus(cudaStreamSynchronize(stream_), "uploading weights");
}

}  // namespace qwen::core::cuda

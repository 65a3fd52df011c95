// GB10 (SM 12.1) instantiation of the gated delta rule kernels (configs in
// detail/gated_delta_rule_core.h: chunk 32, 16-column value tiles, 128 / 64 threads, <= 97 KB of
// shared memory). Compiled for every architecture of the build, so the variant can be forced and
// tested on Hopper.
#include "kernels/cuda/detail/gated_delta_rule_kernels.cuh"

namespace qwen::kernels::cuda::detail {

template int64_t GdrChunkSharedBytes<GdrChunkGb10Config>(int);
template cudaError_t LaunchGdrChunked<GdrChunkGb10Config>(const GdrArgs&, cudaStream_t);
template cudaError_t LaunchGdrDecode<GdrDecodeGb10Config>(const GdrArgs&, cudaStream_t);

}  // namespace qwen::kernels::cuda::detail

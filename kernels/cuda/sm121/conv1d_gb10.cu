// GB10 (SM 12.1) instantiation of the causal conv1d kernels (config in detail/conv1d_core.h).
// Compiled for every architecture of the build, so the variant can be forced and tested on Hopper.
#include "kernels/cuda/detail/conv1d_kernels.cuh"

namespace qwen::kernels::cuda::detail {

template cudaError_t LaunchConvVarlen<ConvGb10Config>(const ConvArgs&, cudaStream_t);
template cudaError_t LaunchConvUpdate<ConvGb10Config>(const ConvArgs&, cudaStream_t);

}  // namespace qwen::kernels::cuda::detail

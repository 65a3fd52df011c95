#include "kernels/cuda/gdn_variant.h"

namespace qwen::kernels::cuda {

const char* GdnVariantName(GdnVariant variant) {
  switch (variant) {
    case GdnVariant::kAuto:
      return "auto";
    case GdnVariant::kDefault:
      return "default";
    case GdnVariant::kGb10:
      return "gb10";
  }
  return "invalid";
}

GdnVariant GdnVariantForComputeCapability(int major, int minor) {
  return major == 12 && minor == 1 ? GdnVariant::kGb10 : GdnVariant::kDefault;
}

cudaError_t SelectGdnVariant(int device, GdnVariant requested, GdnVariant* selected) {
  if (selected == nullptr) return cudaErrorInvalidValue;
  switch (requested) {
    case GdnVariant::kDefault:
    case GdnVariant::kGb10:
      *selected = requested;
      return cudaSuccess;
    case GdnVariant::kAuto:
      break;
    default:
      return cudaErrorInvalidValue;
  }
  int major = 0, minor = 0;
  cudaError_t err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  if (err != cudaSuccess) return err;
  err = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  if (err != cudaSuccess) return err;
  *selected = GdnVariantForComputeCapability(major, minor);
  return cudaSuccess;
}

}  // namespace qwen::kernels::cuda

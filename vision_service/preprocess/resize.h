// Antialiased bicubic resize of 8-bit RGB images, bit-exact with torchvision's
// `resize(uint8 tensor, size, InterpolationMode.BICUBIC, antialias=True)` on CPU (MODEL.md §6.2
// step 3), i.e. PyTorch's `_upsample_bicubic2d_aa` uint8 kernel.
//
// Verified against aten/src/ATen/native/cpu/UpSampleKernel.cpp (HelperInterpBase /
// HelperInterpCubic, basic_loop_aa_horizontal<uint8_t>) and UpSampleKernelAVXAntialias.h, which
// computes the same integer weights and rounding:
//   * separable: horizontal pass (width) first into an 8-bit intermediate, then vertical; a pass is
//     skipped when that side keeps its size;
//   * per axis, scale = in / out (double); support = 2 * scale when downscaling, 2 otherwise;
//     center = scale * (i + 0.5); xmin = max(int(center - support + 0.5), 0);
//     xsize = min(int(center + support + 0.5), in) - xmin, clamped to 2 * ceil(support) + 1;
//     w_j = filter((j + xmin - center + 0.5) * invscale), invscale = 1/scale when downscaling else
//     1, then normalised by their sum;
//   * filter: Keys cubic convolution with a = -0.5 (PIL's BICUBIC) for BOTH up- and downscaling.
//     TRAP: the non-antialiased bicubic uses a = -0.75; antialias=True always takes this -0.5 path;
//   * uint8 arithmetic (the "multiplication trick"): weights scaled to int16 by 2^p, where p is the
//     largest precision (< 22) with round(max_w * 2^(p+1)) < 2^15 over the axis; each weight
//     rounded half away from zero; out = clamp((2^(p-1) + sum(pixel * w16)) >> p, 0, 255).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "vision_service/preprocess/image.h"

namespace qwen::vision {

// Keys' cubic convolution kernel with a = -0.5, evaluated exactly as PyTorch's aa_filter.
double BicubicAaFilter(double x);

// Interpolation taps of one axis.
struct AxisWeights {
  int64_t in_size = 0;
  int64_t out_size = 0;
  int64_t taps = 0;                 // PyTorch's max_interp_size: stride of the weight rows
  unsigned precision = 0;           // p: int16 weights are w * 2^p
  std::vector<int64_t> xmin;        // first source index per output
  std::vector<int64_t> xsize;       // number of taps used per output
  std::vector<double> weights_f64;  // normalised weights [out_size * taps]
  std::vector<int16_t> weights_i16;
};

// InvalidArgument unless 1 <= sizes <= 2^20.
absl::StatusOr<AxisWeights> ComputeAxisWeights(int64_t in_size, int64_t out_size);

// Precomputed resizer for one (input size -> output size) pair; reused for every video frame.
class BicubicAntialiasResizer {
 public:
  static absl::StatusOr<BicubicAntialiasResizer> Create(int64_t in_height, int64_t in_width,
                                                        int64_t out_height, int64_t out_width);
  // InvalidArgument if `src` is not in_height x in_width.
  absl::StatusOr<RgbImage> Resize(const RgbImage& src) const;

 private:
  AxisWeights horizontal_;
  AxisWeights vertical_;
};

// One-shot convenience wrapper.
absl::StatusOr<RgbImage> ResizeBicubicAntialias(const RgbImage& src, int64_t out_height,
                                                int64_t out_width);

}  // namespace qwen::vision

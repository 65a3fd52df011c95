#include "vision_service/preprocess/resize.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace qwen::vision {
namespace {

constexpr int64_t kMaxSize = int64_t{1} << 20;
constexpr int kInterpSize = 4;  // bicubic

// PyTorch's cubic_convolution1/2 (aten/src/ATen/native/UpSample.h), same operation order.
double CubicConvolution1(double x, double a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
double CubicConvolution2(double x, double a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

inline uint8_t Clip8(int64_t acc, unsigned precision) {
  return static_cast<uint8_t>(std::clamp<int64_t>(acc >> precision, 0, 255));
}

}  // namespace

double BicubicAaFilter(double x) {
  constexpr double kA = -0.5;
  x = std::abs(x);
  if (x < 1.0) return CubicConvolution1(x, kA);
  if (x < 2.0) return CubicConvolution2(x, kA);
  return 0.0;
}

absl::StatusOr<AxisWeights> ComputeAxisWeights(int64_t in_size, int64_t out_size) {
  if (in_size < 1 || out_size < 1 || in_size > kMaxSize || out_size > kMaxSize) {
    return absl::InvalidArgumentError(absl::StrCat("resize: sizes must be in [1, ", kMaxSize,
                                                   "], got ", in_size, " -> ", out_size));
  }
  AxisWeights aw;
  aw.in_size = in_size;
  aw.out_size = out_size;
  // HelperInterpBase::_compute_index_ranges_weights with antialias = true, scalar_t = double.
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double support = (scale >= 1.0) ? (kInterpSize * 0.5) * scale : kInterpSize * 0.5;
  aw.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  const double invscale = (scale >= 1.0) ? 1.0 / scale : 1.0;
  aw.xmin.resize(out_size);
  aw.xsize.resize(out_size);
  aw.weights_f64.assign(out_size * aw.taps, 0.0);
  double wt_max = 0.0;
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = scale * (static_cast<double>(i) + 0.5);
    const int64_t xmin = std::max(static_cast<int64_t>(center - support + 0.5), int64_t{0});
    int64_t xsize = std::min(static_cast<int64_t>(center + support + 0.5), in_size) - xmin;
    xsize = std::clamp(xsize, int64_t{0}, aw.taps);
    double* wt = aw.weights_f64.data() + i * aw.taps;
    double total_w = 0.0;
    for (int64_t j = 0; j < xsize; ++j) {
      const double w = BicubicAaFilter((static_cast<double>(j + xmin) - center + 0.5) * invscale);
      wt[j] = w;
      total_w += w;
    }
    if (total_w != 0.0) {
      for (int64_t j = 0; j < xsize; ++j) {
        wt[j] /= total_w;
        wt_max = std::max(wt_max, wt[j]);
      }
    }
    aw.xmin[i] = xmin;
    aw.xsize[i] = xsize;
  }
  // HelperInterpBase::_compute_index_ranges_int16_weights.
  unsigned precision = 0;
  for (precision = 0; precision < 22; ++precision) {
    const int next_value = static_cast<int>(0.5 + wt_max * (1 << (precision + 1)));
    if (next_value >= (1 << 15)) break;
  }
  aw.precision = precision;
  aw.weights_i16.resize(aw.weights_f64.size());
  for (size_t k = 0; k < aw.weights_f64.size(); ++k) {
    const double v = aw.weights_f64[k] * (1 << precision);
    aw.weights_i16[k] =
        static_cast<int16_t>((v < 0) ? static_cast<int>(-0.5 + v) : static_cast<int>(0.5 + v));
  }
  return aw;
}

absl::StatusOr<BicubicAntialiasResizer> BicubicAntialiasResizer::Create(int64_t in_height,
                                                                        int64_t in_width,
                                                                        int64_t out_height,
                                                                        int64_t out_width) {
  BicubicAntialiasResizer r;
  QWEN_ASSIGN_OR_RETURN(r.horizontal_, ComputeAxisWeights(in_width, out_width));
  QWEN_ASSIGN_OR_RETURN(r.vertical_, ComputeAxisWeights(in_height, out_height));
  return r;
}

absl::StatusOr<RgbImage> BicubicAntialiasResizer::Resize(const RgbImage& src) const {
  const int64_t in_h = vertical_.in_size, in_w = horizontal_.in_size;
  const int64_t out_h = vertical_.out_size, out_w = horizontal_.out_size;
  if (src.height != in_h || src.width != in_w ||
      src.pixels.size() != static_cast<size_t>(in_h * in_w * 3)) {
    return absl::InvalidArgumentError(absl::StrCat("resize: expected a ", in_w, "x", in_h,
                                                   " image, got ", src.width, "x", src.height));
  }
  // Horizontal pass (the contiguous dimension) first, as PyTorch; skipped when the width is kept.
  RgbImage tmp;
  const RgbImage* cur = &src;
  if (out_w != in_w) {
    QWEN_ASSIGN_OR_RETURN(tmp, RgbImage::Create(in_h, out_w));
    const AxisWeights& aw = horizontal_;
    const int64_t half = int64_t{1} << (aw.precision - 1);
    for (int64_t y = 0; y < in_h; ++y) {
      const uint8_t* in_row = src.row(y);
      uint8_t* out_row = tmp.row(y);
      for (int64_t x = 0; x < out_w; ++x) {
        const int16_t* w = aw.weights_i16.data() + x * aw.taps;
        const uint8_t* p = in_row + aw.xmin[x] * 3;
        int64_t acc[3] = {half, half, half};
        for (int64_t j = 0; j < aw.xsize[x]; ++j, p += 3) {
          acc[0] += p[0] * w[j];
          acc[1] += p[1] * w[j];
          acc[2] += p[2] * w[j];
        }
        for (int c = 0; c < 3; ++c) out_row[x * 3 + c] = Clip8(acc[c], aw.precision);
      }
    }
    cur = &tmp;
  }
  if (out_h == in_h) {
    if (cur == &src) return src;
    return tmp;
  }
  QWEN_ASSIGN_OR_RETURN(RgbImage out, RgbImage::Create(out_h, out_w));
  const AxisWeights& aw = vertical_;
  const int64_t half = int64_t{1} << (aw.precision - 1);
  const int64_t row_len = out_w * 3;
  std::vector<int64_t> acc(row_len);
  for (int64_t y = 0; y < out_h; ++y) {
    std::fill(acc.begin(), acc.end(), half);
    const int16_t* w = aw.weights_i16.data() + y * aw.taps;
    for (int64_t j = 0; j < aw.xsize[y]; ++j) {
      const uint8_t* in_row = cur->row(aw.xmin[y] + j);
      const int64_t wj = w[j];
      for (int64_t k = 0; k < row_len; ++k) acc[k] += in_row[k] * wj;
    }
    uint8_t* out_row = out.row(y);
    for (int64_t k = 0; k < row_len; ++k) out_row[k] = Clip8(acc[k], aw.precision);
  }
  return out;
}

absl::StatusOr<RgbImage> ResizeBicubicAntialias(const RgbImage& src, int64_t out_height,
                                                int64_t out_width) {
  QWEN_ASSIGN_OR_RETURN(
      BicubicAntialiasResizer r,
      BicubicAntialiasResizer::Create(src.height, src.width, out_height, out_width));
  return r.Resize(src);
}

}  // namespace qwen::vision

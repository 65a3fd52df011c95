// The antialiased bicubic resize against (1) a straightforward double-precision implementation of
// PyTorch's antialias algorithm written here, and (2) torchvision's own uint8 output stored by the
// reference generator (resize_sweep.safetensors), which must match bit for bit.
#include "vision_service/preprocess/resize.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "core/safetensors.h"
#include "gtest/gtest.h"
#include "tests/vision/preprocess/test_util.h"

namespace qwen::vision {
namespace {

using testing_util::MakeImage;
using testing_util::NoiseImage;

// PIL/PyTorch bicubic with a = -0.5, written independently (Horner-free form).
double Keys(double x) {
  const double a = -0.5;
  x = std::fabs(x);
  if (x < 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
  if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
  return 0;
}

// Weights of one output sample over the whole input axis: the antialias filter stretched by the
// downscale factor, centred at (i + 0.5) * scale, truncated to the support, normalised.
std::vector<double> RefWeights(int64_t in, int64_t out, int64_t i) {
  const double scale = static_cast<double>(in) / out;
  const double stretch = std::max(scale, 1.0);
  const double support = 2.0 * stretch;
  const double center = scale * (i + 0.5);
  const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(center - support + 0.5));
  const int64_t hi = std::min<int64_t>(in, static_cast<int64_t>(center + support + 0.5));
  std::vector<double> w(in, 0.0);
  double sum = 0;
  for (int64_t j = lo; j < hi; ++j) {
    w[j] = Keys((j + 0.5 - center) / stretch);
    sum += w[j];
  }
  for (double& v : w) v /= sum;
  return w;
}

// Separable, weights and sums in double. With `uint8_intermediate` the row pass is rounded and
// clamped to 8 bits as PyTorch's uint8 kernel stores it (its only other difference is the int16
// weights); without it, one rounding and clamping at the very end (the float algorithm).
std::vector<double> RefResize(const RgbImage& src, int64_t oh, int64_t ow,
                              bool uint8_intermediate = false) {
  std::vector<double> tmp(src.height * ow * 3, 0.0);
  for (int64_t x = 0; x < ow; ++x) {
    const std::vector<double> w =
        (ow == src.width) ? std::vector<double>() : RefWeights(src.width, ow, x);
    for (int64_t y = 0; y < src.height; ++y)
      for (int c = 0; c < 3; ++c) {
        double acc = 0;
        if (w.empty()) {
          acc = src.at(y, x, c);
        } else {
          for (int64_t j = 0; j < src.width; ++j) acc += w[j] * src.at(y, j, c);
        }
        tmp[(y * ow + x) * 3 + c] =
            uint8_intermediate ? std::clamp(std::nearbyint(acc), 0.0, 255.0) : acc;
      }
  }
  std::vector<double> out(oh * ow * 3, 0.0);
  for (int64_t y = 0; y < oh; ++y) {
    const std::vector<double> w =
        (oh == src.height) ? std::vector<double>() : RefWeights(src.height, oh, y);
    for (int64_t x = 0; x < ow; ++x)
      for (int c = 0; c < 3; ++c) {
        double acc = 0;
        if (w.empty()) {
          acc = tmp[(y * ow + x) * 3 + c];
        } else {
          for (int64_t j = 0; j < src.height; ++j) acc += w[j] * tmp[(j * ow + x) * 3 + c];
        }
        out[(y * ow + x) * 3 + c] = acc;
      }
  }
  return out;
}

struct Agreement {
  int64_t total = 0, within1 = 0, exact = 0;
  double max_diff = 0;
};

Agreement Compare(const RgbImage& got, const std::vector<double>& ref) {
  Agreement a;
  for (size_t k = 0; k < ref.size(); ++k) {
    const double r = std::clamp(std::nearbyint(ref[k]), 0.0, 255.0);
    const double d = std::fabs(r - got.pixels[k]);
    ++a.total;
    a.within1 += d <= 1;
    a.exact += d == 0;
    a.max_diff = std::max(a.max_diff, d);
  }
  return a;
}

TEST(BicubicFilterTest, KeysKernelWithAMinusHalf) {
  EXPECT_DOUBLE_EQ(BicubicAaFilter(0.0), 1.0);
  EXPECT_DOUBLE_EQ(BicubicAaFilter(1.0), 0.0);
  EXPECT_DOUBLE_EQ(BicubicAaFilter(2.0), 0.0);
  EXPECT_DOUBLE_EQ(BicubicAaFilter(0.5), 0.5625);    // (1.5*0.125 - 2.5*0.25 + 1)
  EXPECT_DOUBLE_EQ(BicubicAaFilter(-1.5), -0.0625);  // a = -0.5 (a = -0.75 would give -0.09375)
  for (double x = -2.5; x <= 2.5; x += 0.01) EXPECT_NEAR(BicubicAaFilter(x), Keys(x), 1e-12) << x;
}

TEST(AxisWeightsTest, StructureMatchesPyTorch) {
  // Downscale 100 -> 30: support = 2 * 100/30, taps = 2 * ceil(6.67) + 1 = 15.
  auto aw = ComputeAxisWeights(100, 30);
  ASSERT_TRUE(aw.ok());
  EXPECT_EQ(aw->taps, 15);
  // Upscale: support 2, taps 5.
  auto up = ComputeAxisWeights(10, 37);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->taps, 5);
  for (const AxisWeights* w : {&*aw, &*up}) {
    // Precision p: the largest weight scaled by 2^(p+1) would overflow int16.
    double wmax = 0;
    for (double v : w->weights_f64) wmax = std::max(wmax, v);
    EXPECT_LT(std::lround(wmax * (1 << w->precision)), 1 << 15);
    EXPECT_GE(static_cast<int>(0.5 + wmax * (1 << (w->precision + 1))), 1 << 15);
    for (int64_t i = 0; i < w->out_size; ++i) {
      EXPECT_GE(w->xmin[i], 0);
      EXPECT_LE(w->xmin[i] + w->xsize[i], w->in_size);
      double sum = 0;
      int64_t isum = 0;
      for (int64_t j = 0; j < w->taps; ++j) {
        sum += w->weights_f64[i * w->taps + j];
        isum += w->weights_i16[i * w->taps + j];
        if (j >= w->xsize[i]) {
          EXPECT_EQ(w->weights_i16[i * w->taps + j], 0);
        }
      }
      EXPECT_NEAR(sum, 1.0, 1e-12);
      EXPECT_NEAR(static_cast<double>(isum), std::ldexp(1.0, w->precision), w->taps);
      // Matches the independent reference weights.
      const std::vector<double> ref = RefWeights(w->in_size, w->out_size, i);
      for (int64_t j = 0; j < w->xsize[i]; ++j) {
        EXPECT_NEAR(w->weights_f64[i * w->taps + j], ref[w->xmin[i] + j], 1e-12);
      }
    }
  }
}

TEST(AntialiasResizeTest, AgreesWithDoublePrecisionReference) {
  const std::pair<int64_t, int64_t> from[] = {{37, 53}, {120, 90}, {64, 64}, {7, 300}, {333, 517}};
  const std::pair<int64_t, int64_t> to[] = {{64, 96},   {32, 32}, {160, 224},
                                            {224, 320}, {96, 64}, {37, 96}};
  uint32_t seed = 1;
  for (auto [ih, iw] : from) {
    // Half noise, half smooth: hard edges exercise clamping and the negative lobes.
    RgbImage noise = NoiseImage(ih, iw, seed++);
    RgbImage src = MakeImage(ih, iw, [&](int64_t y, int64_t x, int c) -> uint8_t {
      if ((y / 8 + x / 8) % 2) return noise.at(y, x, c);
      return static_cast<uint8_t>(128 + 100 * std::sin(0.07 * x + 0.11 * y + c));
    });
    for (auto [oh, ow] : to) {
      auto got = ResizeBicubicAntialias(src, oh, ow);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->height, oh);
      ASSERT_EQ(got->width, ow);
      // Against the float algorithm: the uint8 kernel rounds and clamps the row pass to 8 bits (at
      // hard edges the clamped overshoot can move a few pixels far) and uses 16-bit weights; the
      // contract is one 8-bit level at >= 99% of elements.
      const Agreement a = Compare(*got, RefResize(src, oh, ow));
      EXPECT_GE(a.within1, a.total * 99 / 100)
          << ih << "x" << iw << " -> " << oh << "x" << ow << ": " << a.within1 << "/" << a.total
          << " max " << a.max_diff;
      // With the 8-bit intermediate modelled, only the int16 weight rounding remains: it can flip
      // an intermediate level (then scaled by the column weights, sum |w| <= ~1.15) and the final
      // rounding, so two levels at most, and almost everywhere none.
      const Agreement b = Compare(*got, RefResize(src, oh, ow, /*uint8_intermediate=*/true));
      EXPECT_GE(b.within1, b.total * 99 / 100) << ih << "x" << iw << " -> " << oh << "x" << ow;
      EXPECT_LE(b.max_diff, 2) << ih << "x" << iw << " -> " << oh << "x" << ow;
      EXPECT_GE(b.exact, b.total * 95 / 100) << ih << "x" << iw << " -> " << oh << "x" << ow;
    }
  }
}

TEST(AntialiasResizeTest, IdentityAndSinglePassCases) {
  RgbImage src = NoiseImage(33, 65, 9);
  auto same = ResizeBicubicAntialias(src, 33, 65);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, src);  // no pass at all
  // Height-only change: every column is filtered independently, rows untouched.
  auto tall = ResizeBicubicAntialias(src, 64, 65);
  ASSERT_TRUE(tall.ok());
  auto ref = RefResize(src, 64, 65);
  EXPECT_GE(Compare(*tall, ref).within1, static_cast<int64_t>(ref.size() * 99 / 100));
  // A constant image stays constant (weights sum to one, even with the negative lobes).
  RgbImage flat =
      MakeImage(40, 50, [](int64_t, int64_t, int c) { return static_cast<uint8_t>(50 + 70 * c); });
  auto r = ResizeBicubicAntialias(flat, 17, 93);
  ASSERT_TRUE(r.ok());
  for (int64_t y = 0; y < 17; ++y)
    for (int64_t x = 0; x < 93; ++x)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(r->at(y, x, c), 50 + 70 * c);
}

TEST(AntialiasResizeTest, RejectsBadSizes) {
  RgbImage src = NoiseImage(4, 4, 1);
  EXPECT_FALSE(ResizeBicubicAntialias(src, 0, 4).ok());
  EXPECT_FALSE(ResizeBicubicAntialias(RgbImage{}, 4, 4).ok());
  auto resizer = BicubicAntialiasResizer::Create(4, 4, 8, 8);
  ASSERT_TRUE(resizer.ok());
  auto wrong = resizer->Resize(NoiseImage(5, 4, 1));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
}

// torchvision's own outputs (written by tools/reference/make_preprocess_cases.py): bit-exact.
TEST(AntialiasResizeTest, BitExactWithTorchvisionSweep) {
  const std::filesystem::path path = testing_util::SourcePath(
      "tests/reference/image_preprocess_odd_size/resize_sweep.safetensors");
  ASSERT_TRUE(std::filesystem::exists(path))
      << path << " is missing: run tools/reference/make_preprocess_cases.py";
  auto file = core::SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto src_t = (*file)->Get("source");
  auto sizes_t = (*file)->Get("sizes");
  ASSERT_TRUE(src_t.ok() && sizes_t.ok());
  ASSERT_EQ(src_t->rank(), 3);
  RgbImage src = RgbImage::Create(src_t->dim(0), src_t->dim(1)).value();
  std::copy(src_t->data<uint8_t>(), src_t->data<uint8_t>() + src_t->numel(), src.pixels.begin());
  const int64_t n = sizes_t->dim(0);
  ASSERT_GE(n, 10);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t oh = sizes_t->data<int64_t>()[2 * k], ow = sizes_t->data<int64_t>()[2 * k + 1];
    auto want = (*file)->Get("out_" + std::to_string(k));
    ASSERT_TRUE(want.ok()) << want.status();
    auto got = ResizeBicubicAntialias(src, oh, ow);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(static_cast<int64_t>(got->pixels.size()), want->numel()) << oh << "x" << ow;
    int64_t mismatches = 0;
    for (int64_t i = 0; i < want->numel(); ++i)
      mismatches += got->pixels[i] != want->data<uint8_t>()[i];
    EXPECT_EQ(mismatches, 0) << src.height << "x" << src.width << " -> " << oh << "x" << ow;
  }
}

}  // namespace
}  // namespace qwen::vision

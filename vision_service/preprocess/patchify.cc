#include "vision_service/preprocess/patchify.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace qwen::vision {

std::array<std::array<float, 256>, 3> NormalizationTables(const ImageProcessorConfig& cfg) {
  std::array<std::array<float, 256>, 3> lut;
  for (int c = 0; c < 3; ++c) {
    // HF fuses rescale into normalise: mean/std become fp32 tensors multiplied by 1/rescale_factor
    // (computed in double, applied in fp32), then torchvision's normalize does sub_ then div_.
    const float inv_rescale = static_cast<float>(1.0 / cfg.rescale_factor);
    const float mean = cfg.do_rescale ? static_cast<float>(cfg.image_mean[c]) * inv_rescale
                                      : static_cast<float>(cfg.image_mean[c]);
    const float std = cfg.do_rescale ? static_cast<float>(cfg.image_std[c]) * inv_rescale
                                     : static_cast<float>(cfg.image_std[c]);
    const float rescale = static_cast<float>(cfg.rescale_factor);
    for (int v = 0; v < 256; ++v) {
      const float x = static_cast<float>(v);
      if (cfg.do_normalize) {
        lut[c][v] = (x - mean) / std;
      } else if (cfg.do_rescale) {
        lut[c][v] = x * rescale;
      } else {
        lut[c][v] = x;
      }
    }
  }
  return lut;
}

absl::StatusOr<core::Tensor> NormalizeAndPatchify(const std::vector<const RgbImage*>& frames,
                                                  const ImageProcessorConfig& cfg, GridThw* grid) {
  if (frames.empty()) return absl::InvalidArgumentError("patchify: no frames");
  const int64_t p = cfg.patch_size, m = cfg.merge_size, tp = cfg.temporal_patch_size;
  const int64_t height = frames[0]->height, width = frames[0]->width;
  for (const RgbImage* f : frames) {
    if (f->height != height || f->width != width ||
        f->pixels.size() != static_cast<size_t>(height * width * 3)) {
      return absl::InvalidArgumentError(absl::StrCat("patchify: frames differ in size (", width,
                                                     "x", height, " vs ", f->width, "x", f->height,
                                                     ")"));
    }
  }
  if (height <= 0 || width <= 0 || height % (p * m) != 0 || width % (p * m) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "patchify: frame size ", width, "x", height,
        " is not a positive multiple of patch_size * merge_size = ", p * m, " (do_resize false?)"));
  }
  const int64_t n_frames = frames.size();
  const int64_t padded = (n_frames + tp - 1) / tp * tp;
  const int64_t gt = padded / tp, gh = height / p, gw = width / p;
  const int64_t dim = 3 * tp * p * p;
  const auto lut = NormalizationTables(cfg);

  core::Tensor out = core::Tensor::Zeros({gt * gh * gw, dim}, core::DType::kF32);
  float* dst = out.data<float>();
  int64_t n = 0;
  for (int64_t ti = 0; ti < gt; ++ti) {
    for (int64_t bh = 0; bh < gh / m; ++bh) {
      for (int64_t bw = 0; bw < gw / m; ++bw) {
        for (int64_t mh = 0; mh < m; ++mh) {
          for (int64_t mw = 0; mw < m; ++mw, ++n) {
            const int64_t y0 = (bh * m + mh) * p, x0 = (bw * m + mw) * p;
            float* row = dst + n * dim;
            for (int c = 0; c < 3; ++c) {
              for (int64_t t = 0; t < tp; ++t) {
                // Temporal padding: repeat the last frame (MODEL.md §6.3 step 3).
                const RgbImage& f = *frames[std::min(ti * tp + t, n_frames - 1)];
                float* col = row + (c * tp + t) * p * p;
                for (int64_t y = 0; y < p; ++y) {
                  const uint8_t* src = f.row(y0 + y) + x0 * 3 + c;
                  for (int64_t x = 0; x < p; ++x) col[y * p + x] = lut[c][src[x * 3]];
                }
              }
            }
          }
        }
      }
    }
  }
  *grid = GridThw{gt, gh, gw};
  return out;
}

}  // namespace qwen::vision

#include "vision_service/preprocess/image_preprocessor.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "vision_service/preprocess/resize.h"

namespace qwen::vision {

absl::StatusOr<PreprocessedImage> PreprocessImage(const RgbImage& image,
                                                  const ImageProcessorConfig& config) {
  if (image.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image has zero size (", image.width, "x", image.height, ")"));
  }
  PreprocessedImage out;
  RgbImage resized_storage;
  const RgbImage* resized = &image;
  if (config.do_resize) {
    QWEN_ASSIGN_OR_RETURN(out.resized, SmartResizeImage(image.height, image.width, config.factor(),
                                                        config.min_pixels, config.max_pixels));
    if (out.resized.height != image.height || out.resized.width != image.width) {
      QWEN_ASSIGN_OR_RETURN(resized_storage,
                            ResizeBicubicAntialias(image, out.resized.height, out.resized.width));
      resized = &resized_storage;
    }
  } else {
    out.resized = ResizedSize{image.height, image.width};
  }
  // One frame; patchify duplicates it temporal_patch_size times (MODEL.md §6.2 step 5).
  QWEN_ASSIGN_OR_RETURN(out.pixel_values, NormalizeAndPatchify({resized}, config, &out.grid));
  out.num_tokens = out.grid.t * out.grid.h * out.grid.w / (config.merge_size * config.merge_size);
  return out;
}

absl::StatusOr<PreprocessedImage> PreprocessEncodedImage(std::string_view bytes,
                                                         const ImageProcessorConfig& config,
                                                         const ImageDecodeOptions& options) {
  QWEN_ASSIGN_OR_RETURN(DecodedImage decoded, DecodeImage(bytes, options));
  return PreprocessImage(decoded.image, config);
}

absl::StatusOr<PreprocessedImage> PreprocessImageFile(const std::filesystem::path& path,
                                                      const ImageProcessorConfig& config,
                                                      const ImageDecodeOptions& options) {
  QWEN_ASSIGN_OR_RETURN(DecodedImage decoded, DecodeImageFile(path, options));
  absl::StatusOr<PreprocessedImage> r = PreprocessImage(decoded.image, config);
  if (!r.ok())
    return absl::Status(r.status().code(), absl::StrCat(path.string(), ": ", r.status().message()));
  return r;
}

}  // namespace qwen::vision

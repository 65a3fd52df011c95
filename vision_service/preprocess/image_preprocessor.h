// Image pre-processing end to end (MODEL.md §6.2): decode -> RGB -> smart_resize -> antialiased
// bicubic resize -> rescale/normalise -> temporal duplication -> patchify.
// Output matches HF's Qwen2VLImageProcessor (torchvision backend): `pixel_values` f32
// [h*w, 3*tp*p*p] (= [P, 1536] for Qwen3.5) and `image_grid_thw` (1, h, w) in patches.
#pragma once

#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "vision_service/preprocess/decode_image.h"
#include "vision_service/preprocess/image.h"
#include "vision_service/preprocess/patchify.h"
#include "vision_service/preprocess/preprocess_config.h"
#include "vision_service/preprocess/smart_resize.h"

namespace qwen::vision {

struct PreprocessedImage {
  core::Tensor pixel_values;  // f32 [grid.h * grid.w, patch_dim]
  GridThw grid;               // t = 1 for an image
  ResizedSize resized;        // pixel size after smart_resize
  // Placeholder tokens in the prompt: h * w / merge_size^2 (MODEL.md §6.2 step 6).
  int64_t num_tokens = 0;
};

// From decoded RGB. InvalidArgument for an empty image, aspect ratio > 200, or (do_resize false) a
// size that is not a multiple of patch_size * merge_size.
absl::StatusOr<PreprocessedImage> PreprocessImage(const RgbImage& image,
                                                  const ImageProcessorConfig& config);

// From encoded bytes / a file (decode_image.h for formats and limits).
absl::StatusOr<PreprocessedImage> PreprocessEncodedImage(std::string_view bytes,
                                                         const ImageProcessorConfig& config,
                                                         const ImageDecodeOptions& options = {});
absl::StatusOr<PreprocessedImage> PreprocessImageFile(const std::filesystem::path& path,
                                                      const ImageProcessorConfig& config,
                                                      const ImageDecodeOptions& options = {});

}  // namespace qwen::vision

// The pre-processing side of the vision service: admission checks on raw media (sizes, counts,
// declared dimensions), the content hash and cache key, and decode + resize + patchify through
// vision_service/preprocess. Stateless after construction and safe to call from many threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "vision_service/preprocess/preprocess_config.h"
#include "vision_service/server/encode_types.h"

namespace qwen::vision {

// An item ready for the encoder.
struct PreparedItem {
  core::Tensor pixels;             // f32 [grid.num_patches(), patch_dim], merge-block order
  ItemGrid grid;
  std::vector<double> timestamps;  // videos: one per temporal group
};

struct ProcessorConfigs {
  ImageProcessorConfig image;
  VideoProcessorConfig video;
};

// Reads preprocessor_config.json / video_preprocessor_config.json. A file that does not exist is
// replaced by the shipped Qwen3.5 values (MODEL.md 6.1) with a logged warning; a file that exists
// but does not parse is an error naming it.
absl::StatusOr<ProcessorConfigs> LoadProcessorConfigs(const std::filesystem::path& image_config,
                                                      const std::filesystem::path& video_config);

// Lower-case hex SHA-256.
std::string Sha256Hex(std::string_view bytes);

class MediaPreprocessor {
 public:
  MediaPreprocessor(ProcessorConfigs configs, EncodeLimits limits);

  const ImageProcessorConfig& image_config() const { return configs_.image; }
  const VideoProcessorConfig& video_config() const { return configs_.video; }
  const EncodeLimits& limits() const { return limits_; }

  // Cheap checks before admission: the item has media of its kind, byte sizes, frame counts and
  // the dimensions declared by image headers. InvalidArgument naming items[index] and the numbers.
  absl::Status Validate(int64_t index, const MediaInput& input) const;

  // Hex SHA-256 of the content: the encoded bytes, or for frames every frame's length (8 bytes,
  // little-endian) and bytes followed by the fps (IEEE double).
  static std::string ContentHash(const MediaInput& input);
  // Content hash + kind + every pre-processing value that changes the output.
  std::string CacheKey(const MediaInput& input, const std::string& content_hash) const;

  // Decode, sample (videos), resize, normalise, patchify. InvalidArgument (naming items[index])
  // for undecodable or oversized media; Internal for failures of the machine (temporary files).
  absl::StatusOr<PreparedItem> Prepare(int64_t index, const MediaInput& input) const;

 private:
  absl::Status ValidateImageBytes(const std::string& what, std::string_view bytes) const;
  absl::StatusOr<PreparedItem> PrepareImage(std::string_view bytes) const;
  absl::StatusOr<PreparedItem> PrepareVideoBytes(std::string_view bytes) const;
  absl::StatusOr<PreparedItem> PrepareVideoFrames(int64_t index, const MediaInput& input) const;

  ProcessorConfigs configs_;
  EncodeLimits limits_;
  std::string image_params_;  // fingerprints of the configs, for cache keys
  std::string video_params_;
};

}  // namespace qwen::vision

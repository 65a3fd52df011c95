#include "vision_service/server/media_preprocessor.h"

#include <openssl/evp.h>

#include <cstring>
#include <optional>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/match.h"
#include "core/logging.h"
#include "core/status.h"
#include "vision_service/preprocess/decode_image.h"
#include "vision_service/preprocess/frame_sampling.h"
#include "vision_service/preprocess/image_header.h"
#include "vision_service/preprocess/image_preprocessor.h"
#include "vision_service/preprocess/video_decode.h"
#include "vision_service/preprocess/video_preprocessor.h"

namespace qwen::vision {
namespace {

std::string Item(int64_t index) { return absl::StrCat("items[", index, "]"); }

// Pre-processing reports bad media as InvalidArgument (Unimplemented for a decodable but
// unsupported pixel type, which is still the client's media): both become InvalidArgument with the
// item named; failures of the machine keep their code.
absl::Status ForItem(const std::string& what, const absl::Status& s) {
  absl::StatusCode code = s.code();
  if (code == absl::StatusCode::kUnimplemented || code == absl::StatusCode::kOutOfRange ||
      code == absl::StatusCode::kFailedPrecondition || code == absl::StatusCode::kNotFound) {
    code = absl::StatusCode::kInvalidArgument;
  }
  return absl::Status(code, absl::StrCat(what, ": ", std::string(s.message())));
}

ItemGrid ToItemGrid(const GridThw& g) { return {g.t, g.h, g.w}; }

std::string ImageParams(const ImageProcessorConfig& c) {
  return absl::StrFormat(
      "resize=%d,min=%d,max=%d,resample=%d,rescale=%d:%.17g,norm=%d:%.17g/%.17g/%.17g:%.17g/%.17g/%.17g,"
      "rgb=%d,p=%d,tp=%d,m=%d",
      c.do_resize, c.min_pixels, c.max_pixels, c.resample, c.do_rescale, c.rescale_factor, c.do_normalize,
      c.image_mean[0], c.image_mean[1], c.image_mean[2], c.image_std[0], c.image_std[1], c.image_std[2],
      c.do_convert_rgb, c.patch_size, c.temporal_patch_size, c.merge_size);
}

std::string VideoParams(const VideoProcessorConfig& c) {
  return absl::StrCat(ImageParams(c.image), ",sample=", c.do_sample_frames,
                      ",fps=", c.fps ? absl::StrFormat("%.17g", *c.fps) : "none",
                      ",n=", c.num_frames ? absl::StrCat(*c.num_frames) : "none", ",minf=", c.min_frames,
                      ",maxf=", c.max_frames, ",cap=", c.cap_pixels_per_frame);
}

std::optional<double> FpsOrUnknown(double fps) {
  if (fps > 0) return fps;
  return std::nullopt;
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  std::string hex;
  hex.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) absl::StrAppend(&hex, absl::Hex(md[i], absl::kZeroPad2));
  return hex;
}

absl::StatusOr<ProcessorConfigs> LoadProcessorConfigs(const std::filesystem::path& image_config,
                                                      const std::filesystem::path& video_config) {
  ProcessorConfigs out{.image = Qwen35ImageProcessorConfig(), .video = Qwen35VideoProcessorConfig()};
  std::error_code ec;
  if (std::filesystem::exists(image_config, ec)) {
    QWEN_ASSIGN_OR_RETURN(out.image, LoadImageProcessorConfig(image_config));
  } else {
    QWEN_LOG(Warning) << image_config.string()
                      << " not found: using the shipped Qwen3.5 image pre-processing values";
  }
  if (std::filesystem::exists(video_config, ec)) {
    QWEN_ASSIGN_OR_RETURN(out.video, LoadVideoProcessorConfig(video_config));
  } else {
    QWEN_LOG(Warning) << video_config.string()
                      << " not found: using the shipped Qwen3.5 video pre-processing values";
  }
  return out;
}

MediaPreprocessor::MediaPreprocessor(ProcessorConfigs configs, EncodeLimits limits)
    : configs_(std::move(configs)),
      limits_(limits),
      image_params_(ImageParams(configs_.image)),
      video_params_(VideoParams(configs_.video)) {}

absl::Status MediaPreprocessor::ValidateImageBytes(const std::string& what, std::string_view bytes) const {
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": no image bytes"));
  if (static_cast<int64_t>(bytes.size()) > limits_.max_image_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": image of ", bytes.size(),
                                                   " bytes exceeds max_image_bytes = ", limits_.max_image_bytes));
  }
  absl::StatusOr<ImageHeader> header = ProbeImageHeader(bytes);
  if (!header.ok()) return ForItem(what, header.status());
  if (header->width * header->height > limits_.max_pixels_per_image) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": image of ", header->width, "x", header->height, " = ",
                                                   header->width * header->height,
                                                   " pixels exceeds max_pixels_per_image = ",
                                                   limits_.max_pixels_per_image));
  }
  return absl::OkStatus();
}

absl::Status MediaPreprocessor::Validate(int64_t index, const MediaInput& input) const {
  const std::string what = Item(index);
  if (input.kind == MediaKind::kImage) {
    if (input.has_frames()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": an image item carries `encoded` bytes, not `frames`"));
    }
    return ValidateImageBytes(what, input.encoded);
  }
  if (!input.has_frames()) {
    if (input.encoded.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": the video has no data (set `encoded` or `frames`)"));
    }
    if (static_cast<int64_t>(input.encoded.size()) > limits_.max_video_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": video of ", input.encoded.size(),
                                                     " bytes exceeds max_video_bytes = ", limits_.max_video_bytes));
    }
    return absl::OkStatus();  // frame count and frame size are checked when the container is opened
  }
  const int64_t n = static_cast<int64_t>(input.frames.size());
  if (n > limits_.max_video_frames) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": video of ", n, " frames exceeds max_video_frames = ",
                                                   limits_.max_video_frames));
  }
  int64_t total = 0;
  for (int64_t j = 0; j < n; ++j) {
    total += static_cast<int64_t>(input.frames[j].size());
    QWEN_RETURN_IF_ERROR(ValidateImageBytes(absl::StrCat(what, ".frames[", j, "]"), input.frames[j]));
  }
  if (total > limits_.max_video_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": video frames of ", total,
                                                   " bytes in all exceed max_video_bytes = ", limits_.max_video_bytes));
  }
  return absl::OkStatus();
}

std::string MediaPreprocessor::ContentHash(const MediaInput& input) {
  if (!input.has_frames()) return Sha256Hex(input.encoded);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (std::string_view f : input.frames) {
    unsigned char len[8];
    uint64_t n = f.size();
    for (int b = 0; b < 8; ++b) len[b] = static_cast<unsigned char>(n >> (8 * b));
    EVP_DigestUpdate(ctx, len, sizeof(len));
    EVP_DigestUpdate(ctx, f.data(), f.size());
  }
  double fps = input.frames_fps > 0 ? input.frames_fps : 0.0;
  unsigned char fps_bytes[sizeof(double)];
  std::memcpy(fps_bytes, &fps, sizeof(fps));
  EVP_DigestUpdate(ctx, fps_bytes, sizeof(fps_bytes));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) absl::StrAppend(&hex, absl::Hex(md[i], absl::kZeroPad2));
  return hex;
}

std::string MediaPreprocessor::CacheKey(const MediaInput& input, const std::string& content_hash) const {
  if (input.kind == MediaKind::kImage) return absl::StrCat("image:", content_hash, "|", image_params_);
  return absl::StrCat(input.has_frames() ? "frames:" : "video:", content_hash, "|", video_params_);
}

absl::StatusOr<PreparedItem> MediaPreprocessor::Prepare(int64_t index, const MediaInput& input) const {
  absl::StatusOr<PreparedItem> r;
  if (input.kind == MediaKind::kImage) {
    r = PrepareImage(input.encoded);
  } else if (input.has_frames()) {
    return PrepareVideoFrames(index, input);  // names the frame itself
  } else {
    r = PrepareVideoBytes(input.encoded);
  }
  if (!r.ok()) return ForItem(Item(index), r.status());
  return r;
}

absl::StatusOr<PreparedItem> MediaPreprocessor::PrepareImage(std::string_view bytes) const {
  ImageDecodeOptions options{.max_bytes = limits_.max_image_bytes, .max_pixels = limits_.max_pixels_per_image};
  QWEN_ASSIGN_OR_RETURN(PreprocessedImage image, PreprocessEncodedImage(bytes, configs_.image, options));
  return PreparedItem{.pixels = std::move(image.pixel_values), .grid = ToItemGrid(image.grid), .timestamps = {}};
}

absl::StatusOr<PreparedItem> MediaPreprocessor::PrepareVideoBytes(std::string_view bytes) const {
  const int64_t max_frames = limits_.max_video_frames;
  const VideoProcessorConfig& config = configs_.video;
  FrameSampler sampler = [max_frames, &config](int64_t total,
                                               std::optional<double> fps) -> absl::StatusOr<std::vector<int64_t>> {
    if (total > max_frames) {
      return absl::InvalidArgumentError(
          absl::StrCat("video of ", total, " frames exceeds max_video_frames = ", max_frames));
    }
    return SampleFrameIndices(total, fps, config);
  };
  VideoDecodeOptions options{.max_bytes = limits_.max_video_bytes,
                             .max_frame_pixels = limits_.max_pixels_per_image,
                             .max_total_frames = max_frames};
  absl::StatusOr<SampledVideo> video = DecodeVideoBytes(bytes, sampler, options);
  if (!video.ok()) {
    // A container without a frame count is counted by decoding, which stops at the limit.
    const std::string over = absl::StrCat("more than ", max_frames, " frames");
    if (absl::StrContains(video.status().message(), over)) {
      return absl::InvalidArgumentError(absl::StrCat("video of ", over, " exceeds max_video_frames = ", max_frames));
    }
    return video.status();
  }
  QWEN_ASSIGN_OR_RETURN(PreprocessedVideo v, PreprocessSampledFrames(video->frames, std::move(video->frame_indices),
                                                                     video->metadata.fps, config));
  return PreparedItem{.pixels = std::move(v.pixel_values_videos), .grid = ToItemGrid(v.grid),
                      .timestamps = std::move(v.timestamps)};
}

absl::StatusOr<PreparedItem> MediaPreprocessor::PrepareVideoFrames(int64_t index, const MediaInput& input) const {
  const std::string what = Item(index);
  const std::optional<double> fps = FpsOrUnknown(input.frames_fps);
  absl::StatusOr<std::vector<int64_t>> indices =
      SampleFrameIndices(static_cast<int64_t>(input.frames.size()), fps, configs_.video);
  if (!indices.ok()) return ForItem(what, indices.status());
  // Only the sampled frames are decoded; a repeated index reuses the previous decode.
  ImageDecodeOptions options{.max_bytes = limits_.max_image_bytes, .max_pixels = limits_.max_pixels_per_image};
  std::vector<RgbImage> frames;
  frames.reserve(indices->size());
  int64_t last = -1;
  for (int64_t j : *indices) {
    if (j == last) {
      frames.push_back(frames.back());
      continue;
    }
    absl::StatusOr<DecodedImage> decoded = DecodeImage(input.frames[j], options);
    if (!decoded.ok()) return ForItem(absl::StrCat(what, ".frames[", j, "]"), decoded.status());
    frames.push_back(std::move(decoded->image));
    last = j;
  }
  absl::StatusOr<PreprocessedVideo> v = PreprocessSampledFrames(frames, std::move(*indices), fps, configs_.video);
  if (!v.ok()) return ForItem(what, v.status());
  return PreparedItem{.pixels = std::move(v->pixel_values_videos), .grid = ToItemGrid(v->grid),
                      .timestamps = std::move(v->timestamps)};
}

}  // namespace qwen::vision

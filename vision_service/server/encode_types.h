// Plain types shared by the encode scheduler, the pre-processing adapter, the encoder adapter and
// the gRPC layer. Deliberately free of the pre-processing and model headers: both of those define a
// `qwen::vision::GridThw` (vision_service/preprocess/patchify.h and vision_service/model/
// vision_grid.h), so no translation unit may include both; each adapter includes one side only and
// exchanges ItemGrid through this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace qwen::vision {

enum class MediaKind { kImage, kVideo };

// "image" / "video" (metric labels, logs).
inline const char* MediaKindName(MediaKind kind) { return kind == MediaKind::kImage ? "image" : "video"; }

// Qwen grid_thw in patch units (before the spatial merge); t = temporal groups for a video.
struct ItemGrid {
  int64_t t = 0;
  int64_t h = 0;
  int64_t w = 0;
  int64_t num_patches() const { return t * h * w; }
  friend bool operator==(const ItemGrid&, const ItemGrid&) = default;
};

// One media item of a request, as views into bytes the caller keeps alive until the scheduler
// reports the request done (EncodeObserver::OnDone).
struct MediaInput {
  MediaKind kind = MediaKind::kImage;
  // Image file bytes, or video container bytes. Empty when `frames` is used.
  std::string_view encoded;
  // A video given as encoded frames (PNG/JPEG/...), every source frame in order.
  std::vector<std::string_view> frames;
  double frames_fps = 0;  // source fps of `frames`; <= 0 = unknown (24 is assumed, as HF)
  bool has_frames() const { return !frames.empty(); }
};

// The encoder's output for one item; immutable and shared between the cache and the streams.
struct EncodedItem {
  MediaKind kind = MediaKind::kImage;
  std::string content_hash;         // hex sha256 of the content bytes
  ItemGrid grid;
  int64_t num_tokens = 0;           // t * h * w / merge^2
  int64_t hidden_size = 0;          // out_hidden_size
  std::vector<double> timestamps;   // videos: seconds, one per temporal group
  core::Tensor embeds;              // owning f32 [num_tokens, hidden_size]
  size_t bytes() const { return embeds.nbytes() + content_hash.size() + timestamps.size() * sizeof(double); }
};

// What a request gets for one item.
struct ItemResult {
  std::shared_ptr<const EncodedItem> item;
  bool cache_hit = false;
  double encode_s = 0;  // item work start (hash) -> embeddings ready
};

// Limits checked per request; each violation is InvalidArgument naming items[i] and the numbers,
// except max_queue (ResourceExhausted).
struct EncodeLimits {
  int64_t max_items_per_request = 64;
  int64_t max_image_bytes = int64_t{32} << 20;    // one image, or one frame of a VideoFrames item
  int64_t max_video_bytes = int64_t{256} << 20;   // a container, or the sum of a video's frames
  int64_t max_pixels_per_image = int64_t{8192} * 8192;  // decoded width * height (frames too)
  int64_t max_video_frames = 9000;                // source frames of one video
  int64_t max_queue = 256;                        // requests waiting for a worker
};

}  // namespace qwen::vision

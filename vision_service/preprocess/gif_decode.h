// GIF decoding (first frame only). OpenCV 4.6's imgcodecs has no GIF reader (GIF support arrived in
// OpenCV 4.11), so this is a small self-contained LZW decoder reproducing what HF's loader gets
// from PIL for the first frame, after convert("RGB"):
//   * the canvas is the logical screen size; pixels outside the first image's rectangle hold the
//     transparent colour index when the frame's Graphic Control Extension declares one, else index
//     0 (Pillow's load_prepare for frame 0);
//   * each index maps through the local colour table, else the global one; with no table at all the
//     index is a grey level; indices past the table's end map to grey (i, i, i) (Pillow's palette
//     ramp); transparency is ignored by convert("RGB") (the colour is kept, not composited);
//   * interlaced images are de-interlaced; a rectangle reaching past the screen is clipped;
//   * an early end-of-information code leaves the remaining pixels as filled; running out of data
//     before the end-of-information code or the block terminator is an error ("truncated GIF"), as
//     is an invalid LZW code.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "vision_service/preprocess/image.h"

namespace qwen::vision {

// InvalidArgument with a precise message for malformed/truncated data, a zero-sized screen, a
// screen over `max_pixels`, or a file without any image.
absl::StatusOr<RgbImage> DecodeGifFirstFrame(std::string_view bytes, int64_t max_pixels);

}  // namespace qwen::vision

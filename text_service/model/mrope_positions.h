// Multimodal prompt helpers of the text decoder: 3-D M-RoPE position ids for a prompt holding
// image/video placeholder runs (HF Qwen3_5Model.get_rope_index, MODEL.md 3.1), and the processor's
// placeholder expansion (Qwen3VLProcessor.replace_image_token / replace_video_token, MODEL.md 6.4).
// No tokenizer dependency: the timestamp text of video frames comes in as token lists.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config.h"

namespace qwen::text {

// mm_token_type_ids values (HF processor): 0 text, 1 image placeholder, 2 video placeholder.
inline constexpr int64_t kMmText = 0;
inline constexpr int64_t kMmImage = 1;
inline constexpr int64_t kMmVideo = 2;

// One image or video in vision patch units (a row of image_grid_thw / video_grid_thw).
struct MmGrid {
  int64_t t = 0;
  int64_t h = 0;
  int64_t w = 0;
};

struct MropePositions {
  std::vector<int64_t> positions;  // i64 [3, T] row-major: rows T, H, W
  int64_t rope_delta = 0;          // max position + 1 - T; decode positions = cache_len + delta
};

// get_rope_index for one un-padded sequence. Runs of equal type: a text run of n tokens takes
// positions p..p+n-1 on all three axes (p += n); a vision run takes the next grid of its modality
// — images one row per image, videos one row [1, h, w] per temporal group (TRAP: each group is
// its own timestamp-separated block) — and gives token (ti, hi, wi) (raster order over
// (t, h/m, w/m)) positions (p+ti, p+hi, p+wi), then p += max(h, w) / m (TRAP: not the token count).
// InvalidArgument for: an empty sequence, unknown type values, a run whose length is not its
// grid's t*(h/m)*(w/m), more runs than grids or grids left over, grids not divisible by m.
absl::StatusOr<MropePositions> GetRopeIndex(std::span<const int64_t> mm_token_type_ids,
                                            std::span<const MmGrid> image_grids,
                                            std::span<const MmGrid> video_grids,
                                            int64_t spatial_merge_size);

// mm_token_type_ids derived from token ids: image_token_id -> 1, video_token_id -> 2, else 0.
std::vector<int64_t> MmTokenTypesFromIds(std::span<const int64_t> input_ids, int64_t image_token_id,
                                         int64_t video_token_id);

// Checks that explicit mm_token_type_ids agree with the placeholder ids (type 1 exactly where
// id == image_token_id, type 2 exactly where id == video_token_id): HF scatters features by id but
// computes positions by type, so a disagreement would silently misplace positions.
absl::Status CheckMmTokenTypes(std::span<const int64_t> input_ids,
                               std::span<const int64_t> mm_token_type_ids, int64_t image_token_id,
                               int64_t video_token_id);

// get_rope_index from token ids with the config's placeholder ids and spatial_merge_size.
absl::StatusOr<MropePositions> GetRopeIndexFromIds(const core::ModelConfig& config,
                                                   std::span<const int64_t> input_ids,
                                                   std::span<const MmGrid> image_grids,
                                                   std::span<const MmGrid> video_grids);

// ---- Placeholder expansion (the processor's job, before tokens reach the model) ----

// How a video's <|vision_start|><|video_pad|><|vision_end|> triple is expanded.
// [UNCERTAIN in MODEL.md 6.4: which layout matches training is not established.]
enum class VideoWrapper {
  // transformers >= 5.10 (the installed 5.17, the default): only <|video_pad|> is replaced, so the
  // chat template's outer <|vision_start|> ... <|vision_end|> stays around the per-group blocks
  // (num_groups + 1 start/end pairs).
  kKeepOuter,
  // transformers < 5.10 and the original Qwen3-VL processor: the whole triple is replaced by the
  // per-group blocks (no outer wrapper).
  kReplaceTriple,
};

struct PlaceholderTokens {
  int64_t image_token_id = 248056;
  int64_t video_token_id = 248057;
  int64_t vision_start_token_id = 248053;
  int64_t vision_end_token_id = 248054;
  static PlaceholderTokens FromConfig(const core::ModelConfig& config);
};

struct VideoPrompt {
  MmGrid grid;  // t temporal groups of h x w patches
  // One token list per temporal group: the tokenisation of FormatTimestamp(T_g), e.g.
  // "<0.3 seconds>". TRAP (kReplaceTriple only): HF tokenises the whole prompt at once, so the
  // first group's timestamp may merge with the text before the video; with kKeepOuter every
  // timestamp sits between special tokens and tokenises on its own.
  std::vector<std::vector<int64_t>> timestamp_tokens;
};

struct ExpandOptions {
  int64_t spatial_merge_size = 2;
  VideoWrapper video_wrapper = VideoWrapper::kKeepOuter;
};

struct ExpandedPrompt {
  std::vector<int64_t> input_ids;
  std::vector<int64_t> mm_token_type_ids;  // 0 / 1 / 2 per token
};

// Expands a prompt with one image_token_id per image and one video_token_id per video (as the
// chat template renders them) into the model's input: each image placeholder becomes
// t*h*w/m² image tokens; each video placeholder becomes, per temporal group g,
//   timestamp_tokens[g] + <|vision_start|> + <|video_pad|> x (h*w/m²) + <|vision_end|>
// (the surrounding triple kept or replaced per options.video_wrapper). InvalidArgument when the
// placeholder counts differ from the items, a grid is invalid, a timestamp list count differs
// from grid.t or holds a placeholder id, or (kReplaceTriple) a video placeholder is not wrapped in
// vision_start / vision_end.
absl::StatusOr<ExpandedPrompt> ExpandPlaceholders(std::span<const int64_t> input_ids,
                                                  std::span<const MmGrid> images,
                                                  std::span<const VideoPrompt> videos,
                                                  const PlaceholderTokens& tokens,
                                                  const ExpandOptions& options);

// The timestamp text of one temporal group, as Python's f"<{seconds:.1f} seconds>".
std::string FormatTimestamp(double seconds);

// Per-group timestamps (Qwen3VLProcessor._calculate_timestamps): the sampled frame indices padded
// to a multiple of temporal_patch_size by repeating the last, divided by fps, and each group's
// first and last averaged. Empty when frame_indices is empty.
std::vector<double> GroupTimestamps(std::span<const int64_t> frame_indices, double fps,
                                    int64_t temporal_patch_size);

}  // namespace qwen::text

#include "text_service/model/mrope_positions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status.h"

namespace qwen::text {
namespace {

const char* ModalityName(int64_t type) { return type == kMmImage ? "image" : "video"; }

absl::Status CheckGrid(const MmGrid& g, int64_t m, const char* what, size_t index) {
  // 2^16 patches per extent is far beyond any real input and keeps every product in int64.
  constexpr int64_t kMaxExtent = int64_t{1} << 16;
  if (g.t < 1 || g.h < 1 || g.w < 1 || g.t > kMaxExtent || g.h > kMaxExtent || g.w > kMaxExtent) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", index, " grid (", g.t, ", ", g.h,
                                                   ", ", g.w, ") has an extent outside [1, ",
                                                   kMaxExtent, "]"));
  }
  if (g.h % m != 0 || g.w % m != 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", index, " grid (", g.t, ", ", g.h,
                                                   ", ", g.w, "): h and w must be multiples of ",
                                                   "spatial_merge_size ", m));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MropePositions> GetRopeIndex(std::span<const int64_t> types,
                                            std::span<const MmGrid> image_grids,
                                            std::span<const MmGrid> video_grids,
                                            int64_t spatial_merge_size) {
  const int64_t n = static_cast<int64_t>(types.size());
  const int64_t m = spatial_merge_size;
  if (n == 0) return absl::InvalidArgumentError("get_rope_index: the sequence has no tokens");
  if (m < 1) return absl::InvalidArgumentError("spatial_merge_size must be >= 1");
  for (size_t i = 0; i < image_grids.size(); ++i) {
    QWEN_RETURN_IF_ERROR(CheckGrid(image_grids[i], m, "image", i));
  }
  // TRAP: every video row [t, h, w] becomes t rows [1, h, w]: each temporal group is its own
  // timestamp-separated placeholder run in the prompt.
  std::vector<MmGrid> video_groups;
  for (size_t i = 0; i < video_grids.size(); ++i) {
    QWEN_RETURN_IF_ERROR(CheckGrid(video_grids[i], m, "video", i));
    for (int64_t g = 0; g < video_grids[i].t; ++g) {
      video_groups.push_back({1, video_grids[i].h, video_grids[i].w});
    }
  }
  size_t next_image = 0, next_video = 0;

  MropePositions out;
  out.positions.assign(static_cast<size_t>(3 * n), 0);
  int64_t* pt = out.positions.data();
  int64_t* ph = pt + n;
  int64_t* pw = ph + n;
  int64_t p = 0;  // the next text position
  int64_t i = 0;
  while (i < n) {
    const int64_t type = types[i];
    if (type != kMmText && type != kMmImage && type != kMmVideo) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mm_token_type_ids[", i, "] = ", type, "; expected 0 (text), 1 (image) or 2 (video)"));
    }
    int64_t end = i;
    while (end < n && types[end] == type) ++end;
    const int64_t len = end - i;
    if (type == kMmText) {
      for (int64_t j = 0; j < len; ++j) pt[i + j] = ph[i + j] = pw[i + j] = p + j;
      p += len;
    } else {
      const bool image = type == kMmImage;
      const size_t available = image ? image_grids.size() : video_groups.size();
      size_t& next = image ? next_image : next_video;
      if (next >= available) {
        return absl::InvalidArgumentError(absl::StrCat(
            ModalityName(type), " placeholder run at token ", i, " has no grid left (", available,
            image ? " image grid rows" : " video temporal groups", " in all)"));
      }
      const MmGrid g = image ? image_grids[next] : video_groups[next];
      const int64_t gh = g.h / m, gw = g.w / m;
      if (len != g.t * gh * gw) {
        return absl::InvalidArgumentError(absl::StrCat(
            ModalityName(type), " placeholder run at token ", i, " has ", len, " tokens but ",
            image ? "image " : "video temporal group ", next, " (grid ", g.t, "x", g.h, "x", g.w,
            ", merge ", m, ") needs ", g.t * gh * gw));
      }
      ++next;
      int64_t k = i;
      for (int64_t ti = 0; ti < g.t; ++ti) {
        for (int64_t hi = 0; hi < gh; ++hi) {
          for (int64_t wi = 0; wi < gw; ++wi, ++k) {
            pt[k] = p + ti;
            ph[k] = p + hi;
            pw[k] = p + wi;
          }
        }
      }
      p += std::max(g.h, g.w) / m;
    }
    i = end;
  }
  if (next_image != image_grids.size() || next_video != video_groups.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the sequence has placeholder runs for ", next_image, " of ", image_grids.size(),
        " images and ", next_video, " of ", video_groups.size(), " video temporal groups"));
  }
  const int64_t max_pos = *std::max_element(out.positions.begin(), out.positions.end());
  out.rope_delta = max_pos + 1 - n;
  return out;
}

std::vector<int64_t> MmTokenTypesFromIds(std::span<const int64_t> input_ids, int64_t image_token_id,
                                         int64_t video_token_id) {
  std::vector<int64_t> types(input_ids.size(), kMmText);
  for (size_t i = 0; i < input_ids.size(); ++i) {
    if (input_ids[i] == image_token_id) types[i] = kMmImage;
    if (input_ids[i] == video_token_id) types[i] = kMmVideo;
  }
  return types;
}

absl::Status CheckMmTokenTypes(std::span<const int64_t> input_ids,
                               std::span<const int64_t> mm_token_type_ids, int64_t image_token_id,
                               int64_t video_token_id) {
  if (input_ids.size() != mm_token_type_ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat("mm_token_type_ids has ",
                                                   mm_token_type_ids.size(), " entries for ",
                                                   input_ids.size(), " input_ids"));
  }
  const std::vector<int64_t> want = MmTokenTypesFromIds(input_ids, image_token_id, video_token_id);
  for (size_t i = 0; i < want.size(); ++i) {
    if (mm_token_type_ids[i] != want[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat("mm_token_type_ids[", i, "] = ", mm_token_type_ids[i], " but input_ids[", i,
                       "] = ", input_ids[i], " implies ", want[i], " (image_token_id ",
                       image_token_id, ", video_token_id ", video_token_id, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<MropePositions> GetRopeIndexFromIds(const core::ModelConfig& config,
                                                   std::span<const int64_t> input_ids,
                                                   std::span<const MmGrid> image_grids,
                                                   std::span<const MmGrid> video_grids) {
  const int64_t m = config.vision.has_value() ? config.vision->spatial_merge_size : 2;
  const std::vector<int64_t> types =
      MmTokenTypesFromIds(input_ids, config.image_token_id, config.video_token_id);
  return GetRopeIndex(types, image_grids, video_grids, m);
}

PlaceholderTokens PlaceholderTokens::FromConfig(const core::ModelConfig& config) {
  return {.image_token_id = config.image_token_id,
          .video_token_id = config.video_token_id,
          .vision_start_token_id = config.vision_start_token_id,
          .vision_end_token_id = config.vision_end_token_id};
}

absl::StatusOr<ExpandedPrompt> ExpandPlaceholders(std::span<const int64_t> input_ids,
                                                  std::span<const MmGrid> images,
                                                  std::span<const VideoPrompt> videos,
                                                  const PlaceholderTokens& tokens,
                                                  const ExpandOptions& options) {
  const int64_t m = options.spatial_merge_size;
  if (m < 1) return absl::InvalidArgumentError("spatial_merge_size must be >= 1");
  const int64_t num_image_ph =
      std::count(input_ids.begin(), input_ids.end(), tokens.image_token_id);
  const int64_t num_video_ph =
      std::count(input_ids.begin(), input_ids.end(), tokens.video_token_id);
  if (num_image_ph != static_cast<int64_t>(images.size()) ||
      num_video_ph != static_cast<int64_t>(videos.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the prompt has ", num_image_ph, " image and ", num_video_ph, " video placeholders for ",
        images.size(), " images and ", videos.size(), " videos"));
  }
  for (size_t i = 0; i < images.size(); ++i)
    QWEN_RETURN_IF_ERROR(CheckGrid(images[i], m, "image", i));
  for (size_t i = 0; i < videos.size(); ++i) {
    const VideoPrompt& v = videos[i];
    QWEN_RETURN_IF_ERROR(CheckGrid(v.grid, m, "video", i));
    if (static_cast<int64_t>(v.timestamp_tokens.size()) != v.grid.t) {
      return absl::InvalidArgumentError(
          absl::StrCat("video ", i, " has ", v.timestamp_tokens.size(),
                       " timestamp token lists for ", v.grid.t, " temporal groups"));
    }
    for (const std::vector<int64_t>& ts : v.timestamp_tokens) {
      for (int64_t id : ts) {
        if (id == tokens.image_token_id || id == tokens.video_token_id) {
          return absl::InvalidArgumentError(
              absl::StrCat("video ", i, " timestamp tokens contain the placeholder id ", id));
        }
      }
    }
  }

  ExpandedPrompt out;
  auto emit = [&out](int64_t id, int64_t type) {
    out.input_ids.push_back(id);
    out.mm_token_type_ids.push_back(type);
  };
  size_t image = 0, video = 0;
  const int64_t n = static_cast<int64_t>(input_ids.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = input_ids[i];
    if (id == tokens.image_token_id) {
      const MmGrid& g = images[image++];
      const int64_t count = g.t * g.h * g.w / (m * m);
      for (int64_t k = 0; k < count; ++k) emit(id, kMmImage);
    } else if (id == tokens.video_token_id) {
      const VideoPrompt& v = videos[video++];
      const bool replace_triple = options.video_wrapper == VideoWrapper::kReplaceTriple;
      if (replace_triple) {
        const bool wrapped = i > 0 && input_ids[i - 1] == tokens.vision_start_token_id &&
                             i + 1 < n && input_ids[i + 1] == tokens.vision_end_token_id;
        if (!wrapped) {
          return absl::InvalidArgumentError(absl::StrCat(
              "video placeholder at token ", i, " is not wrapped in <|vision_start|> ... ",
              "<|vision_end|>, which VideoWrapper::kReplaceTriple replaces"));
        }
        // Drop the already emitted <|vision_start|>; the matching <|vision_end|> is skipped below.
        out.input_ids.pop_back();
        out.mm_token_type_ids.pop_back();
      }
      const int64_t per_group = v.grid.h * v.grid.w / (m * m);
      for (int64_t g = 0; g < v.grid.t; ++g) {
        for (int64_t ts : v.timestamp_tokens[g]) emit(ts, kMmText);
        emit(tokens.vision_start_token_id, kMmText);
        for (int64_t k = 0; k < per_group; ++k) emit(id, kMmVideo);
        emit(tokens.vision_end_token_id, kMmText);
      }
      if (replace_triple) ++i;  // the wrapper's <|vision_end|>
    } else {
      emit(id, kMmText);
    }
  }
  return out;
}

std::string FormatTimestamp(double seconds) { return absl::StrFormat("<%.1f seconds>", seconds); }

std::vector<double> GroupTimestamps(std::span<const int64_t> frame_indices, double fps,
                                    int64_t temporal_patch_size) {
  std::vector<int64_t> idx(frame_indices.begin(), frame_indices.end());
  if (idx.empty() || temporal_patch_size < 1) return {};
  while (idx.size() % static_cast<size_t>(temporal_patch_size) != 0) idx.push_back(idx.back());
  std::vector<double> out;
  for (size_t g = 0; g < idx.size(); g += static_cast<size_t>(temporal_patch_size)) {
    const double first = static_cast<double>(idx[g]) / fps;
    const double last = static_cast<double>(idx[g + temporal_patch_size - 1]) / fps;
    out.push_back((first + last) / 2);
  }
  return out;
}

}  // namespace qwen::text

#include "gateway/orchestrator/prompt_assembly.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace qwen::gateway {
namespace {

namespace pb = qwen35::v1;

pb::EmbeddingSpan* AddSpan(pb::GenerateRequest* request, pb::Modality modality, int64_t offset,
                           const VisionOutput& item, int64_t rows) {
  pb::EmbeddingSpan* span = request->add_embeddings();
  span->set_modality(modality);
  span->set_offset(static_cast<uint32_t>(offset));
  pb::Tensor* t = span->mutable_embeddings();
  t->set_dtype(item.dtype);
  t->add_shape(rows);
  t->add_shape(item.hidden_size);
  return span;
}

}  // namespace

size_t EmbeddingDTypeSize(pb::DType dtype) {
  switch (dtype) {
    case pb::DTYPE_BF16: return 2;
    case pb::DTYPE_F32: return 4;
    default: return 0;
  }
}

absl::Status AssemblePrompt(std::span<const int32_t> prompt_ids, std::vector<VisionOutput> media,
                            const ModelBundle& bundle, const text::ExpandOptions& options,
                            pb::GenerateRequest* request, PromptCounts* counts) {
  *counts = PromptCounts{};
  std::vector<int64_t> ids(prompt_ids.begin(), prompt_ids.end());
  if (media.empty()) {
    // Placeholders without media would reach the model as plain embeddings of the pad token.
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == bundle.placeholders().image_token_id || ids[i] == bundle.placeholders().video_token_id) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the prompt holds an image/video placeholder token at position ", i,
            " but the request has no media (message text must not spell <|image_pad|> or <|video_pad|>)"));
      }
    }
    request->mutable_input_ids()->Assign(ids.begin(), ids.end());
    request->clear_positions();
    request->set_rope_delta(0);
    return absl::OkStatus();
  }

  std::vector<text::MmGrid> image_grids, video_grids;
  std::vector<text::VideoPrompt> videos;
  for (const VisionOutput& item : media) {
    if (item.modality == pb::MODALITY_IMAGE) {
      image_grids.push_back(item.grid);
      continue;
    }
    video_grids.push_back(item.grid);
    text::VideoPrompt video;
    video.grid = item.grid;
    for (double ts : item.timestamps_s) {
      QWEN_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, bundle.tokenizer().Encode(text::FormatTimestamp(ts)));
      video.timestamp_tokens.emplace_back(tokens.begin(), tokens.end());
    }
    videos.push_back(std::move(video));
  }
  text::ExpandOptions expand = options;
  expand.spatial_merge_size = bundle.spatial_merge_size();
  absl::StatusOr<text::ExpandedPrompt> expanded =
      text::ExpandPlaceholders(ids, image_grids, videos, bundle.placeholders(), expand);
  if (!expanded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: ", expanded.status().message(),
                                                   " (message text must not spell <|image_pad|> or <|video_pad|>)"));
  }
  QWEN_ASSIGN_OR_RETURN(text::MropePositions positions,
                        text::GetRopeIndex(expanded->mm_token_type_ids, image_grids, video_grids,
                                           bundle.spatial_merge_size()));

  // One span per pad run, in order: a whole image, or one temporal group of a video (the groups
  // are separated by timestamp text). GetRopeIndex has checked that every run matches its grid.
  const std::vector<int64_t>& types = expanded->mm_token_type_ids;
  const int64_t n = static_cast<int64_t>(types.size());
  size_t next_item = 0;
  int64_t group = 0;  // temporal group within media[next_item] when it is a video
  for (int64_t i = 0; i < n;) {
    int64_t end = i;
    while (end < n && types[end] == types[i]) ++end;
    if (types[i] == text::kMmText) {
      i = end;
      continue;
    }
    const pb::Modality modality = types[i] == text::kMmImage ? pb::MODALITY_IMAGE : pb::MODALITY_VIDEO;
    // Media are in prompt order, so the next run belongs to the next unfinished item.
    if (next_item >= media.size() || media[next_item].modality != modality) {
      return absl::InternalError(absl::StrCat("pad run at token ", i, " does not match the media order"));
    }
    VisionOutput& item = media[next_item];
    const int64_t rows = end - i;
    const size_t elem = EmbeddingDTypeSize(item.dtype);
    const size_t bytes = static_cast<size_t>(rows * item.hidden_size) * elem;
    pb::EmbeddingSpan* span = AddSpan(request, modality, i, item, rows);
    if (modality == pb::MODALITY_IMAGE) {
      if (bytes != item.data.size()) {
        return absl::InternalError(absl::StrCat("image run of ", rows, " rows but ", item.data.size(), " bytes"));
      }
      span->mutable_embeddings()->set_data(std::move(item.data));
      counts->image_tokens += rows;
      ++next_item;
    } else {
      const size_t begin = static_cast<size_t>(group) * bytes;
      if (begin + bytes > item.data.size()) {
        return absl::InternalError(absl::StrCat("video run of ", rows, " rows past the embeddings' end"));
      }
      span->mutable_embeddings()->set_data(item.data.substr(begin, bytes));
      counts->video_tokens += rows;
      if (++group == item.grid.t) {
        item.data.clear();
        group = 0;
        ++next_item;
      }
    }
    i = end;
  }
  if (next_item != media.size()) return absl::InternalError("not every media item found its pad run");

  request->mutable_input_ids()->Assign(expanded->input_ids.begin(), expanded->input_ids.end());
  pb::MRopePositions* pos = request->mutable_positions();
  pos->Clear();
  const auto* p = positions.positions.data();
  pos->mutable_t()->Assign(p, p + n);
  pos->mutable_h()->Assign(p + n, p + 2 * n);
  pos->mutable_w()->Assign(p + 2 * n, p + 3 * n);
  request->set_rope_delta(positions.rope_delta);
  return absl::OkStatus();
}

}  // namespace qwen::gateway

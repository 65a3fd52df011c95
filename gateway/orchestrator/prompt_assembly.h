// The rendered-and-tokenized prompt plus the vision results -> the text service's input: the
// placeholders expanded (MODEL.md 6.4, via text_service/model/mrope_positions), one embedding span
// per pad run (an image, or one temporal group of a video), and the M-RoPE positions + rope delta
// (MODEL.md 3). Pure: no network, no clock.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gateway/orchestrator/model_bundle.h"
#include "qwen35/v1/text.pb.h"
#include "text_service/model/mrope_positions.h"

namespace qwen::gateway {

// One media item's encoder output, as the vision service returned it.
struct VisionOutput {
  qwen35::v1::Modality modality = qwen35::v1::MODALITY_UNSPECIFIED;
  text::MmGrid grid;                 // pre-merge patch units; videos: t = temporal groups
  int64_t num_tokens = 0;            // t * h * w / merge^2 rows of `data`
  int64_t hidden_size = 0;
  qwen35::v1::DType dtype = qwen35::v1::DTYPE_BF16;  // BF16 or F32, passed through to the text service
  std::vector<double> timestamps_s;  // videos: one per temporal group
  std::string data;                  // [num_tokens, hidden_size] row-major little-endian
};

// Bytes per element of the embedding dtypes the text service accepts; 0 for any other.
size_t EmbeddingDTypeSize(qwen35::v1::DType dtype);

struct PromptCounts {
  int64_t image_tokens = 0;  // pad tokens of all images
  int64_t video_tokens = 0;  // pad tokens of all videos
};

// Fills `request`'s input_ids, embeddings, positions and rope_delta. `media` is in prompt order
// (the order of the placeholders in `prompt_ids`); its data is moved into the request. A
// text-only prompt gets no positions (the text service then uses 0..T-1) and rope delta 0.
// InvalidArgument when the placeholder tokens in the prompt do not match the media (e.g. a
// message's text spells <|image_pad|>), or a grid is unusable.
absl::Status AssemblePrompt(std::span<const int32_t> prompt_ids, std::vector<VisionOutput> media,
                            const ModelBundle& bundle, const text::ExpandOptions& options,
                            qwen35::v1::GenerateRequest* request, PromptCounts* counts);

}  // namespace qwen::gateway

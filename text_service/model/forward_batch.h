// The flattened varlen batch a forward pass runs over: all new tokens of all sequences in one
// [N, H] activation, sequences contiguous and in order (the layout the engine uses).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "text_service/model/sequence_state.h"

namespace qwen::text {

struct SequenceSpan {
  int64_t begin = 0;             // first row of this sequence in the flattened batch
  int64_t length = 0;            // new tokens of this sequence (>= 1)
  SequenceState* state = nullptr;  // continued from its num_tokens(); advanced by the forward
};

struct ForwardBatch {
  std::span<const int64_t> token_ids;  // i64 [N]
  // Optional f32 [N, H]: replaces the embedding lookup (multimodal injection, MODEL.md 5). When
  // set, token_ids are still validated and used for nothing else.
  const float* input_embeds = nullptr;
  std::span<const int64_t> positions;  // i64 [3, N] M-RoPE positions (rows T, H, W)
  std::vector<SequenceSpan> sequences;
};

// Positions of text tokens continuing each sequence: p = num_tokens + i + rope_delta on all three
// axes (MODEL.md 3.2). Returns i64 [3, N] for the sequences' spans.
std::vector<int64_t> TextPositions(const std::vector<SequenceSpan>& sequences, int64_t num_rows);

}  // namespace qwen::text

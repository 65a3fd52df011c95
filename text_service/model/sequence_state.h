// Per-sequence decoder state of the CPU model: KV cache of the full-attention layers and conv +
// recurrent state of the Gated DeltaNet layers (MODEL.md 2.7.6). The engine owns one per request.
#pragma once

#include <cstdint>
#include <vector>

#include "core/config.h"

namespace qwen::text {

struct LayerState {
  // Full-attention layers: f32 [num_tokens, Hkv, D] each, token-major, post k_norm + RoPE for K.
  std::vector<float> k;
  std::vector<float> v;
  // Gated DeltaNet layers: f32 [Kc-1, conv_dim] previous pre-conv inputs (oldest first), and the
  // f32 recurrent state [Hv, Dk, Dv] (S[k][v]).
  std::vector<float> conv;
  std::vector<float> recurrent;
};

class SequenceState {
 public:
  // Empty state (no tokens) shaped for `config`; DeltaNet states are zero as at sequence start.
  explicit SequenceState(const core::TextConfig& config);

  // Tokens already processed (the KV cache length of every full-attention layer).
  int64_t num_tokens() const { return num_tokens_; }
  // M-RoPE offset for decode positions: position = num_tokens + rope_delta (MODEL.md 3.2).
  int64_t rope_delta() const { return rope_delta_; }
  void set_rope_delta(int64_t delta) { rope_delta_ = delta; }

  LayerState& layer(int64_t i) { return layers_[i]; }
  const LayerState& layer(int64_t i) const { return layers_[i]; }
  // Called by the model once a forward pass has consumed `n` more tokens.
  void Advance(int64_t n) { num_tokens_ += n; }
  // Bytes held (for memory accounting).
  size_t MemoryBytes() const;

 private:
  std::vector<LayerState> layers_;
  int64_t num_tokens_ = 0;
  int64_t rope_delta_ = 0;
};

}  // namespace qwen::text

#include "text_service/model/sequence_state.h"

namespace qwen::text {

SequenceState::SequenceState(const core::TextConfig& config) {
  layers_.resize(config.layer_types.size());
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (config.layer_types[i] == core::LayerType::kLinearAttention) {
      layers_[i].conv.assign(
          static_cast<size_t>((config.linear_conv_kernel_dim - 1) * config.linear_conv_dim()), 0.0f);
      layers_[i].recurrent.assign(
          static_cast<size_t>(config.linear_num_value_heads * config.linear_key_head_dim *
                              config.linear_value_head_dim),
          0.0f);
    }
  }
}

size_t SequenceState::MemoryBytes() const {
  size_t n = 0;
  for (const LayerState& l : layers_) {
    n += (l.k.capacity() + l.v.capacity() + l.conv.capacity() + l.recurrent.capacity()) *
         sizeof(float);
  }
  return n;
}

}  // namespace qwen::text

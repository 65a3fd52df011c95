// Reads decoder weights from a checkpoint into owning fp32 CPU tensors, checking shapes.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "core/safetensors.h"
#include "core/tensor.h"

namespace qwen::text {

class WeightLoader {
 public:
  WeightLoader(core::Checkpoint* checkpoint, std::string prefix)
      : checkpoint_(checkpoint), prefix_(std::move(prefix)) {}

  // prefix + name, shape-checked, converted from F32/BF16/F16 to an owning fp32 tensor.
  absl::StatusOr<core::Tensor> Get(const std::string& name, const core::Shape& shape) const;
  // A loader for a sub-module: prefix + sub.
  WeightLoader Sub(const std::string& sub) const { return WeightLoader(checkpoint_, prefix_ + sub); }
  core::Checkpoint* checkpoint() const { return checkpoint_; }
  const std::string& prefix() const { return prefix_; }

 private:
  core::Checkpoint* checkpoint_;
  std::string prefix_;
};

}  // namespace qwen::text

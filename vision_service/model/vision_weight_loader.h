// Reads vision-encoder weights from a checkpoint into owning fp32 CPU tensors, checking shapes.
// The same contract as text::WeightLoader, kept separate so the vision model does not depend on
// the text model's library.
#pragma once

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "core/safetensors.h"
#include "core/tensor.h"

namespace qwen::vision {

class VisionWeightLoader {
 public:
  VisionWeightLoader(core::Checkpoint* checkpoint, std::string prefix)
      : checkpoint_(checkpoint), prefix_(std::move(prefix)) {}

  // prefix + name, shape-checked, converted from F32/BF16/F16 to an owning fp32 tensor.
  absl::StatusOr<core::Tensor> Get(const std::string& name, const core::Shape& shape) const;
  // A loader for a sub-module: prefix + sub.
  VisionWeightLoader Sub(const std::string& sub) const {
    return VisionWeightLoader(checkpoint_, prefix_ + sub);
  }
  const std::string& prefix() const { return prefix_; }

 private:
  core::Checkpoint* checkpoint_;
  std::string prefix_;
};

}  // namespace qwen::vision

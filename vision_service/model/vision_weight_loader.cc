#include "vision_service/model/vision_weight_loader.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace qwen::vision {

absl::StatusOr<core::Tensor> VisionWeightLoader::Get(const std::string& name,
                                                     const core::Shape& shape) const {
  const std::string full = prefix_ + name;
  QWEN_ASSIGN_OR_RETURN(core::Tensor t, checkpoint_->Get(full, shape));
  if (!core::IsFloating(t.dtype())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor ", full, " has dtype ", core::DTypeName(t.dtype()), "; expected F32, BF16 or F16"));
  }
  return t.ToF32();
}

}  // namespace qwen::vision

// Small helpers around the encode scheduler: a blocking encode (warm-up, tests), the start-up check
// that the pre-processing configs fit the encoder, and the synthetic warm-up picture.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vision_service/server/encode_scheduler.h"

namespace qwen::vision {

// Submits and blocks until done (warm-up, tests). Results in item order.
absl::StatusOr<std::vector<ItemResult>> EncodeSync(EncodeScheduler& scheduler, std::string request_id,
                                                   std::vector<MediaInput> items);

// FailedPrecondition unless the pre-processing configs produce the patches the encoder takes
// (patch_size, temporal_patch_size, merge_size, row width).
absl::Status CheckProcessorMatchesEncoder(const ProcessorConfigs& configs, const EncoderInfo& info);

// A small synthetic picture (24-bit BMP, a colour gradient) for warm-up encodes.
std::string SyntheticBmp(int width, int height);

}  // namespace qwen::vision

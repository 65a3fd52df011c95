// qwen35.v1.GenerateRequest -> engine request, filling unset sampling fields from the model's
// generation_config.json. Malformed requests are InvalidArgument naming the field.
#pragma once

#include "absl/status/statusor.h"
#include "core/config.h"
#include "qwen35/v1/text.pb.h"
#include "text_service/engine/request.h"

namespace qwen::text {

struct RequestDefaults {
  core::GenerationConfig generation;  // sampling defaults
  int64_t max_tokens = 256;           // when the request leaves it 0
  int64_t hidden_size = 0;            // embeddings width
};

absl::StatusOr<GenerateRequest> FromProto(const qwen35::v1::GenerateRequest& proto,
                                          const RequestDefaults& defaults);

qwen35::v1::FinishReason ToProto(FinishReason reason);

}  // namespace qwen::text

// Sends a request's images and videos to the vision tier: one Encode call per item, all in flight
// at once (callback API, no thread per item), each a fresh round_robin pick so the items spread
// across vision replicas. Results come back in item order, validated against the model (grid,
// token count, hidden size, dtype, byte count, one timestamp per video group).
#pragma once

#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/orchestrator/chat_request.h"
#include "gateway/orchestrator/downstream_context.h"
#include "gateway/orchestrator/prompt_assembly.h"
#include "gateway/orchestrator/replica_pool.h"

namespace qwen::gateway {

struct VisionClientOptions {
  qwen35::v1::DType output_dtype = qwen35::v1::DTYPE_BF16;
  int max_attempts = 2;  // per item, for UNAVAILABLE / RESOURCE_EXHAUSTED
  std::chrono::milliseconds retry_backoff{20};
  int64_t hidden_size = 0;         // the text model's; every embedding row must have it
  int64_t spatial_merge_size = 2;
  size_t max_item_bytes = size_t{1} << 30;  // refuse absurd headers before allocating
};

class VisionClient {
 public:
  // `pool` may be null: requests with media then fail with UNIMPLEMENTED.
  VisionClient(ReplicaPool* pool, VisionClientOptions options) : pool_(pool), options_(std::move(options)) {}

  // Encodes `media` concurrently. The first failure cancels the other calls. Errors:
  //  * the vision service's INVALID_ARGUMENT -> InvalidArgument "messages[i].content[j] (image): ...";
  //  * a malformed answer (wrong grid, size, dtype...) -> Internal naming the item;
  //  * anything else keeps its code, prefixed with the item; CANCELLED / DEADLINE_EXCEEDED when
  //    the client went away.
  // `attempts` (optional) receives the number of Encode calls made.
  absl::StatusOr<std::vector<VisionOutput>> EncodeAll(const DownstreamContext& call, std::span<const MediaInput> media,
                                                      int* attempts = nullptr) const;

 private:
  ReplicaPool* pool_;
  VisionClientOptions options_;
};

}  // namespace qwen::gateway

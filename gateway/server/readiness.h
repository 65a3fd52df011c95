// The gateway's readiness condition beyond its own files: a text replica answers GetModelInfo and
// serves the same model (vocabulary, hidden size, placeholder ids) as the local config.json.
#pragma once

#include <chrono>

#include "absl/status/status.h"
#include "gateway/orchestrator/model_bundle.h"
#include "gateway/orchestrator/replica_pool.h"

namespace qwen::gateway {

// One GetModelInfo on the text channel (a round_robin pick; waits for a ready replica up to
// `timeout`). Unavailable / DeadlineExceeded while no replica answers; FailedPrecondition naming
// every mismatch when the replica serves another model.
absl::Status ProbeTextReplica(const ReplicaPool& text, const ModelBundle& bundle, std::chrono::milliseconds timeout);

}  // namespace qwen::gateway

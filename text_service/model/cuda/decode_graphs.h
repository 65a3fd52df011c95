// CUDA graphs of the decoder's decode steps (ARCHITECTURE.md: "CUDA graphs for decode"). A decode
// step launches ~15 kernels per layer (~500 for the 9B shape), so at small batches the host's
// launch overhead, not the GPU, sets the step time. A graph replays the whole step with one launch.
//
// A graph bakes in every launch parameter, so one graph serves one step shape: the batch is padded
// up to a batch-size bucket and the block table to a width bucket (batch_plan.h DecodePadding), and
// the step's variable inputs (token ids, positions, cache lengths, slots, block tables) are read
// from the fixed metadata buffer that is uploaded before each replay. Graphs are captured lazily,
// the first time a shape is seen, right after an eager run of the same step (which warms up the
// cuBLASLt plan cache and the kernels' attributes so that capture records no first-use work).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace qwen::text::cuda {

class DecodeGraphs {
 public:
  // Batch buckets: 1, 2, 4, 8, then steps of 8 up to 64, 16 up to 128, 32 beyond, capped at
  // `max_batch`; width buckets: powers of two from min(min_width, max_width) up to `max_width`
  // pages (the last bucket is max_width itself).
  DecodeGraphs(int64_t max_batch, int64_t min_width, int64_t max_width);
  ~DecodeGraphs();
  DecodeGraphs(const DecodeGraphs&) = delete;
  DecodeGraphs& operator=(const DecodeGraphs&) = delete;

  // Smallest batch bucket >= num_seqs; 0 when num_seqs is larger than every bucket.
  int64_t BatchBucket(int64_t num_seqs) const;
  // Smallest width bucket >= pages (pages <= max_width).
  int64_t WidthBucket(int64_t pages) const;
  const std::vector<int64_t>& batch_buckets() const { return batch_buckets_; }
  int64_t num_graphs() const { return static_cast<int64_t>(graphs_.size()); }

  // Runs the step of shape (batch, width) on `stream`: replays its graph, or, the first time,
  // runs `enqueue` eagerly and then captures a second call of it into the graph (capture records
  // launches without running them). `enqueue` must launch the same work every time it is called
  // for a shape and must not synchronise or allocate.
  absl::Status Run(int64_t batch, int64_t width, cudaStream_t stream,
                   const std::function<absl::Status()>& enqueue);

 private:
  std::vector<int64_t> batch_buckets_;
  int64_t min_width_;
  int64_t max_width_;
  std::map<std::pair<int64_t, int64_t>, cudaGraphExec_t> graphs_;
};

}  // namespace qwen::text::cuda

#include "text_service/model/cuda/decode_graphs.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/cuda/cuda_status.h"
#include "core/logging.h"

namespace qwen::text::cuda {

DecodeGraphs::DecodeGraphs(int64_t max_batch, int64_t min_width, int64_t max_width)
    : min_width_(std::max<int64_t>(1, std::min(min_width, max_width))),
      max_width_(std::max<int64_t>(1, max_width)) {
  for (int64_t b = 1; b <= max_batch;) {
    batch_buckets_.push_back(b);
    b = b < 8 ? b * 2 : b < 64 ? b + 8 : b < 128 ? b + 16 : b + 32;
  }
  if (max_batch > 0 && batch_buckets_.back() != max_batch) batch_buckets_.push_back(max_batch);
}

DecodeGraphs::~DecodeGraphs() {
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
}

int64_t DecodeGraphs::BatchBucket(int64_t num_seqs) const {
  auto it = std::lower_bound(batch_buckets_.begin(), batch_buckets_.end(), num_seqs);
  return it == batch_buckets_.end() ? 0 : *it;
}

int64_t DecodeGraphs::WidthBucket(int64_t pages) const {
  int64_t w = min_width_;
  while (w < pages && w < max_width_) w *= 2;
  return std::min(w, max_width_);
}

absl::Status DecodeGraphs::Run(int64_t batch, int64_t width, cudaStream_t stream,
                               const std::function<absl::Status()>& enqueue) {
  const auto key = std::make_pair(batch, width);
  if (auto it = graphs_.find(key); it != graphs_.end()) {
    QWEN_CUDA_RETURN_IF_ERROR(cudaGraphLaunch(it->second, stream), "launching a decode graph");
    return absl::OkStatus();
  }
  QWEN_RETURN_IF_ERROR(enqueue());
  QWEN_CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal),
                            "starting a decode graph capture");
  const absl::Status captured = enqueue();
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream, &graph);
  if (!captured.ok() || end != cudaSuccess) {
    if (graph != nullptr) cudaGraphDestroy(graph);
    cudaGetLastError();  // a failed capture leaves a sticky-free error; clear it
    if (!captured.ok()) return captured;
    return core::cuda::CudaStatus(end, "capturing a decode graph");
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
  size_t nodes = 0;
  cudaGraphGetNodes(graph, nullptr, &nodes);
  cudaGraphDestroy(graph);
  QWEN_CUDA_RETURN_IF_ERROR(
      inst, absl::StrCat("instantiating the decode graph for batch ", batch, ", width ", width));
  graphs_.emplace(key, exec);
  QWEN_LOG(Info) << "captured the decode CUDA graph for batch " << batch << " (block tables of "
                 << width << " pages): " << nodes << " nodes, " << graphs_.size() << " graphs";
  return absl::OkStatus();
}

}  // namespace qwen::text::cuda

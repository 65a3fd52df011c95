#include "gateway/orchestrator/vision_client.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "qwen35/v1/vision.grpc.pb.h"
#include "server_common/grpc_status.h"

namespace qwen::gateway {
namespace {

namespace pb = qwen35::v1;

// Completion bookkeeping shared by the calls of one round.
struct Round {
  std::mutex mu;
  std::condition_variable cv;
  int pending = 0;                // guarded by mu
  std::vector<size_t> completed;  // guarded by mu: call slots in completion order
};

// One Encode call of one item. Owned by EncodeAll, which waits for OnDone before destroying it.
class EncodeCall final : public grpc::ClientReadReactor<pb::EncodeResponse> {
 public:
  EncodeCall(const MediaInput& media, const VisionClientOptions& options, Round* round, size_t slot)
      : media_(media), options_(options), round_(round), slot_(slot) {}

  void Start(const std::shared_ptr<grpc::Channel>& channel, std::unique_ptr<grpc::ClientContext> context,
             const std::string& request_id) {
    context_ = std::move(context);
    stub_ = pb::VisionEncoder::NewStub(channel);
    request_.set_request_id(request_id);
    request_.set_output_dtype(options_.output_dtype);
    pb::MediaItem* item = request_.add_items();
    item->set_modality(media_.modality);
    item->set_encoded(*media_.data);
    output_.modality = media_.modality;
    stub_->async()->Encode(context_.get(), &request_, this);
    StartRead(&message_);
    StartCall();
  }

  void Cancel() { context_->TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows
    if (protocol_error_.ok()) {
      protocol_error_ = Accept(message_);
      if (!protocol_error_.ok()) context_->TryCancel();
    }
    StartRead(&message_);  // after a cancel this read fails and the call completes
  }

  void OnDone(const grpc::Status& status) override {
    grpc_status_ = status;
    std::lock_guard<std::mutex> lock(round_->mu);
    --round_->pending;
    round_->completed.push_back(slot_);
    round_->cv.notify_all();  // under the lock: EncodeAll may destroy everything right after
  }

  // The item's result once OnDone ran: the output, or the error mapped for the caller.
  absl::Status Result() const {
    const std::string what = absl::StrCat(media_.Where(), " (", media_.KindName(), ")");
    if (!protocol_error_.ok()) {
      return absl::InternalError(absl::StrCat("vision service answer for ", what, ": ", protocol_error_.message()));
    }
    if (!grpc_status_.ok()) {
      if (grpc_status_.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": ", grpc_status_.error_message()));
      }
      return absl::Status(static_cast<absl::StatusCode>(grpc_status_.error_code()),
                          absl::StrCat("vision encoding of ", what, " failed: ", grpc_status_.error_message()));
    }
    if (!done_ || output_.data.size() != expected_bytes_) {
      return absl::InternalError(absl::StrCat("vision service answer for ", what, ": the stream ended after ",
                                              output_.data.size(), " of ", expected_bytes_, " bytes",
                                              done_ ? "" : " without ItemDone"));
    }
    return absl::OkStatus();
  }
  bool Retryable() const {
    return protocol_error_.ok() && (grpc_status_.error_code() == grpc::StatusCode::UNAVAILABLE ||
                                    grpc_status_.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  VisionOutput TakeOutput() { return std::move(output_); }
  const MediaInput& media() const { return media_; }

 private:
  absl::Status Accept(const pb::EncodeResponse& msg) {
    if (msg.item_index() != 0) return absl::InternalError(absl::StrCat("item_index ", msg.item_index(), " in a one-item call"));
    switch (msg.kind_case()) {
      case pb::EncodeResponse::kHeader:
        if (has_header_) return absl::InternalError("a second ItemHeader");
        has_header_ = true;
        return AcceptHeader(msg.header());
      case pb::EncodeResponse::kChunk:
        if (!has_header_ || done_) return absl::InternalError("an embedding chunk outside header..done");
        if (output_.data.size() + msg.chunk().size() > expected_bytes_) {
          return absl::InternalError(absl::StrCat("more than the ", expected_bytes_, " bytes the header announced"));
        }
        output_.data.append(msg.chunk());
        return absl::OkStatus();
      case pb::EncodeResponse::kDone:
        if (!has_header_) return absl::InternalError("ItemDone before ItemHeader");
        done_ = true;
        return absl::OkStatus();
      default:
        return absl::InternalError("an empty EncodeResponse");
    }
  }

  absl::Status AcceptHeader(const pb::ItemHeader& h) {
    const int64_t m = options_.spatial_merge_size;
    const int64_t t = h.grid().t(), gh = h.grid().h(), gw = h.grid().w();
    if (t < 1 || gh < 1 || gw < 1 || gh % m != 0 || gw % m != 0) {
      return absl::InternalError(absl::StrCat("grid (", t, ", ", gh, ", ", gw, ") is not a positive grid with h, w ",
                                              "multiples of ", m));
    }
    const int64_t tokens = t * gh * gw / (m * m);
    if (static_cast<int64_t>(h.num_tokens()) != tokens) {
      return absl::InternalError(absl::StrCat("num_tokens ", h.num_tokens(), " but grid (", t, ", ", gh, ", ", gw,
                                              ") has ", tokens));
    }
    if (static_cast<int64_t>(h.hidden_size()) != options_.hidden_size) {
      return absl::InternalError(absl::StrCat("hidden_size ", h.hidden_size(), " but the text model's is ",
                                              options_.hidden_size));
    }
    const size_t elem = EmbeddingDTypeSize(h.dtype());
    if (elem == 0) return absl::InternalError(absl::StrCat("dtype ", pb::DType_Name(h.dtype()), " (need BF16 or F32)"));
    if (media_.modality == pb::MODALITY_VIDEO && h.timestamps_s_size() != t) {
      return absl::InternalError(absl::StrCat(h.timestamps_s_size(), " timestamps for ", t, " temporal groups"));
    }
    expected_bytes_ = static_cast<size_t>(tokens) * static_cast<size_t>(h.hidden_size()) * elem;
    if (expected_bytes_ > options_.max_item_bytes) {
      return absl::InternalError(absl::StrCat(expected_bytes_, " bytes of embeddings exceed the limit of ",
                                              options_.max_item_bytes));
    }
    output_.grid = {t, gh, gw};
    output_.num_tokens = tokens;
    output_.hidden_size = h.hidden_size();
    output_.dtype = h.dtype();
    output_.timestamps_s.assign(h.timestamps_s().begin(), h.timestamps_s().end());
    output_.data.reserve(expected_bytes_);
    return absl::OkStatus();
  }

  const MediaInput& media_;
  const VisionClientOptions& options_;
  Round* round_;
  const size_t slot_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<pb::VisionEncoder::Stub> stub_;
  pb::EncodeRequest request_;
  pb::EncodeResponse message_;
  // Touched only by the call's reactions (serialised by gRPC), read after OnDone.
  bool has_header_ = false;
  bool done_ = false;
  size_t expected_bytes_ = 0;
  VisionOutput output_;
  absl::Status protocol_error_;
  grpc::Status grpc_status_;
};

}  // namespace

absl::StatusOr<std::vector<VisionOutput>> VisionClient::EncodeAll(const DownstreamContext& call,
                                                                  std::span<const MediaInput> media,
                                                                  int* attempts) const {
  if (attempts != nullptr) *attempts = 0;
  if (media.empty()) return std::vector<VisionOutput>{};
  if (pool_ == nullptr) {
    return absl::UnimplementedError(absl::StrCat("this gateway has no vision service (--vision_targets); ",
                                                 media[0].Where(), " is an ", media[0].KindName()));
  }
  std::vector<std::optional<VisionOutput>> results(media.size());
  std::vector<size_t> todo(media.size());
  for (size_t i = 0; i < media.size(); ++i) todo[i] = i;

  for (int attempt = 1; !todo.empty(); ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(options_.retry_backoff * (attempt - 1));
    Round round;
    std::vector<std::unique_ptr<EncodeCall>> calls;
    calls.reserve(todo.size());
    round.pending = static_cast<int>(todo.size());
    for (size_t slot = 0; slot < todo.size(); ++slot) {
      calls.push_back(std::make_unique<EncodeCall>(media[todo[slot]], options_, &round, slot));
    }
    if (attempts != nullptr) *attempts += static_cast<int>(todo.size());
    // Started after all are constructed: a fast OnDone must find its siblings to cancel.
    const std::shared_ptr<grpc::Channel> channel = pool_->channel();
    for (auto& c : calls) c->Start(channel, call.NewClientContext(), call.request_id);

    // The first item that fails for good cancels the others: no point encoding a long video for a
    // request that is already lost.
    std::optional<size_t> fatal;
    {
      std::unique_lock<std::mutex> lock(round.mu);
      size_t seen = 0;
      while (round.pending > 0 || seen < round.completed.size()) {
        round.cv.wait(lock, [&] { return seen < round.completed.size(); });
        const size_t slot = round.completed[seen++];
        const EncodeCall& c = *calls[slot];
        const bool retry_later = c.Retryable() && attempt < options_.max_attempts;
        if (!fatal.has_value() && !c.Result().ok() && !retry_later) {
          fatal = slot;
          lock.unlock();
          for (auto& other : calls) other->Cancel();
          lock.lock();
        }
      }
    }
    if (fatal.has_value()) return calls[*fatal]->Result();

    std::vector<size_t> again;
    for (size_t slot = 0; slot < calls.size(); ++slot) {
      absl::Status s = calls[slot]->Result();
      if (s.ok()) {
        results[todo[slot]] = calls[slot]->TakeOutput();
      } else {
        QWEN_LOG(Warning) << "request_id=" << call.request_id << " " << s << "; retrying on another vision replica";
        again.push_back(todo[slot]);
      }
    }
    if (!again.empty() && call.Cancelled()) return absl::CancelledError("the client cancelled the request");
    todo = std::move(again);
  }
  std::vector<VisionOutput> out;
  out.reserve(media.size());
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

}  // namespace qwen::gateway

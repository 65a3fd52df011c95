#include "vision_service/server/vision_servicer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "core/dtype.h"
#include "core/logging.h"
#include "server_common/grpc_status.h"

namespace qwen::vision {
namespace pb = qwen35::v1;
using Clock = std::chrono::steady_clock;

namespace {

absl::StatusOr<core::DType> OutputDType(pb::DType d) {
  switch (d) {
    case pb::DTYPE_UNSPECIFIED:
    case pb::DTYPE_BF16:
      return core::DType::kBF16;
    case pb::DTYPE_F16:
      return core::DType::kF16;
    case pb::DTYPE_F32:
      return core::DType::kF32;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("output_dtype ", pb::DType_Name(d), " is not supported (DTYPE_BF16, DTYPE_F16 or DTYPE_F32)"));
  }
}

pb::DType ToProto(core::DType d) {
  switch (d) {
    case core::DType::kF32:
      return pb::DTYPE_F32;
    case core::DType::kF16:
      return pb::DTYPE_F16;
    default:
      return pb::DTYPE_BF16;
  }
}

std::vector<MediaInput> ToMediaInputs(const pb::EncodeRequest& request) {
  std::vector<MediaInput> items;
  items.reserve(request.items_size());
  for (const pb::MediaItem& m : request.items()) {
    MediaInput in;
    const bool frames = m.source_case() == pb::MediaItem::kFrames;
    in.kind = m.modality() == pb::MODALITY_VIDEO || (m.modality() == pb::MODALITY_UNSPECIFIED && frames)
                  ? MediaKind::kVideo
                  : MediaKind::kImage;
    if (frames) {
      for (const std::string& f : m.frames().frames()) in.frames.emplace_back(f);
      in.frames_fps = m.frames().fps();
    } else {
      in.encoded = m.encoded();
    }
    items.push_back(std::move(in));
  }
  return items;
}

}  // namespace

// One Encode call. Deleted when gRPC is done with it (OnDone) and the scheduler has reported the
// request done, whichever comes last: until then the scheduler may read the request's media.
class VisionServicer::EncodeReactor final : public grpc::ServerWriteReactor<pb::EncodeResponse>,
                                            public EncodeObserver {
 public:
  EncodeReactor(VisionServicer* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context), received_(Clock::now()) {
    ++service_->open_streams_;
  }

  void Start(const pb::EncodeRequest& request) {
    request_id_ = request.request_id();
    if (request_id_.empty()) {
      auto it = context_->client_metadata().find("x-request-id");
      request_id_ = it != context_->client_metadata().end()
                        ? std::string(it->second.data(), it->second.size())
                        : absl::StrCat("vision-", ++service_->unnamed_requests_);
    }
    num_items_ = request.items_size();
    if (service_->draining_) return Reject(absl::UnavailableError("the vision service is draining: retry on another replica"));
    absl::StatusOr<core::DType> dtype = OutputDType(request.output_dtype());
    if (!dtype.ok()) return Reject(dtype.status());
    dtype_ = *dtype;
    const uint32_t elem = static_cast<uint32_t>(core::DTypeSize(dtype_));
    uint32_t chunk = request.max_chunk_bytes() == 0 ? kDefaultChunkBytes : request.max_chunk_bytes();
    chunk = std::min(chunk, kMaxChunkBytes) / elem * elem;  // whole elements per chunk
    if (chunk == 0) {
      return Reject(absl::InvalidArgumentError(absl::StrCat("max_chunk_bytes ", request.max_chunk_bytes(),
                                                            " is smaller than one ", core::DTypeName(dtype_),
                                                            " element (", elem, " bytes)")));
    }
    chunk_bytes_ = chunk;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = true;  // results delivered before Submit returns wait for job_id_
    }
    absl::StatusOr<uint64_t> id = service_->scheduler_->Submit(request_id_, ToMediaInputs(request), this);
    if (!id.ok()) return Reject(id.status());
    std::lock_guard<std::mutex> lock(mu_);
    job_id_ = *id;
    hold_ = false;
    WriteNextLocked();
  }

  // EncodeObserver (scheduler threads).
  void OnItem(int64_t index, const ItemResult& result) override {
    std::lock_guard<std::mutex> lock(mu_);
    outgoing_.push_back(Outgoing{.index = index, .result = result});
    if (result.cache_hit) ++cache_hits_;
    WriteNextLocked();
  }
  void OnDone(const absl::Status& status) override {
    std::unique_lock<std::mutex> lock(mu_);
    scheduler_done_ = true;
    final_status_ = status;
    if (!status.ok()) outgoing_.clear();  // the request failed: stop after the message in flight
    WriteNextLocked();
    if (grpc_done_) {
      lock.unlock();
      delete this;
    }
  }

  // gRPC reactions.
  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok && !broken_) {
      broken_ = true;  // the client is gone: drop its queued work
      lock.unlock();
      service_->scheduler_->Cancel(job_id_, absl::CancelledError("the client stream broke"));
      lock.lock();
    }
    WriteNextLocked();
  }
  void OnCancel() override {
    const bool deadline = context_->deadline() <= std::chrono::system_clock::now();
    service_->scheduler_->Cancel(job_id_, deadline ? absl::DeadlineExceededError("the deadline passed")
                                                   : absl::CancelledError("cancelled by the client"));
  }
  void OnDone() override {
    --service_->open_streams_;
    std::unique_lock<std::mutex> lock(mu_);
    grpc_done_ = true;
    if (scheduler_done_) {
      lock.unlock();
      delete this;
    }
  }

 private:
  struct Outgoing {
    int64_t index = 0;
    ItemResult result;
    enum { kHeader, kChunks, kDone } phase = kHeader;
    size_t offset = 0;  // bytes of the converted tensor already sent
  };

  void Reject(const absl::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      scheduler_done_ = true;  // the scheduler never saw this request
      finished_ = true;
    }
    LogAndCount(status);
    Finish(serving::ToGrpcStatus(status));
  }

  void LogAndCount(const absl::Status& status) {
    const double seconds = std::chrono::duration<double>(Clock::now() - received_).count();
    if (service_->metrics_ != nullptr) {
      service_->metrics_->requests.Add({{"code", absl::StatusCodeToString(status.code())}}).Increment();
    }
    if (status.ok()) {
      QWEN_LOG(Info) << "request_id=" << request_id_ << " encode ok: items=" << num_items_
                     << " cache_hits=" << cache_hits_ << " seconds=" << seconds;
    } else {
      QWEN_LOG(Info) << "request_id=" << request_id_ << " encode " << absl::StatusCodeToString(status.code())
                     << ": " << status.message() << " (items=" << num_items_ << ", seconds=" << seconds << ")";
    }
  }

  // Builds the next message of the item at the front of outgoing_ into current_.
  void BuildNextLocked() {
    Outgoing& o = outgoing_.front();
    const EncodedItem& e = *o.result.item;
    current_.Clear();
    current_.set_item_index(static_cast<uint32_t>(o.index));
    const size_t elem = core::DTypeSize(dtype_);
    const size_t total = static_cast<size_t>(e.embeds.numel()) * elem;
    switch (o.phase) {
      case Outgoing::kHeader: {
        pb::ItemHeader* h = current_.mutable_header();
        h->set_content_hash(e.content_hash);
        h->mutable_grid()->set_t(static_cast<uint32_t>(e.grid.t));
        h->mutable_grid()->set_h(static_cast<uint32_t>(e.grid.h));
        h->mutable_grid()->set_w(static_cast<uint32_t>(e.grid.w));
        h->set_num_tokens(static_cast<uint32_t>(e.num_tokens));
        h->set_hidden_size(static_cast<uint32_t>(e.hidden_size));
        h->set_dtype(ToProto(dtype_));
        h->set_cache_hit(o.result.cache_hit);
        for (double ts : e.timestamps) h->add_timestamps_s(ts);
        o.phase = Outgoing::kChunks;
        break;
      }
      case Outgoing::kChunks: {
        const size_t n = std::min<size_t>(chunk_bytes_, total - o.offset);
        std::string* chunk = current_.mutable_chunk();
        chunk->resize(n);
        const float* src = e.embeds.data<float>() + o.offset / elem;
        if (dtype_ == core::DType::kF32) {
          std::memcpy(chunk->data(), src, n);
        } else {
          core::ConvertFromF32(src, chunk->data(), dtype_, n / elem);
        }
        o.offset += n;
        if (o.offset >= total) o.phase = Outgoing::kDone;
        break;
      }
      case Outgoing::kDone:
        current_.mutable_done()->set_encode_s(o.result.encode_s);
        if (service_->metrics_ != nullptr && !o.result.cache_hit) {
          service_->metrics_->encode_seconds.Observe(o.result.encode_s);
        }
        outgoing_.pop_front();
        break;
    }
  }

  void WriteNextLocked() {
    if (writing_ || finished_ || hold_) return;
    if (broken_) {
      outgoing_.clear();
      if (scheduler_done_) FinishLocked(absl::CancelledError("the client stream broke"));
      return;
    }
    if (!outgoing_.empty()) {
      BuildNextLocked();
      writing_ = true;
      StartWrite(&current_);
      return;
    }
    if (scheduler_done_) FinishLocked(final_status_);
  }

  void FinishLocked(const absl::Status& status) {
    finished_ = true;
    LogAndCount(status);
    Finish(serving::ToGrpcStatus(status));
  }

  VisionServicer* service_;
  grpc::CallbackServerContext* context_;
  const Clock::time_point received_;
  std::string request_id_;
  int num_items_ = 0;
  core::DType dtype_ = core::DType::kBF16;
  size_t chunk_bytes_ = kDefaultChunkBytes;
  uint64_t job_id_ = 0;

  std::mutex mu_;
  std::deque<Outgoing> outgoing_;          // guarded by mu_: delivered items not fully written
  pb::EncodeResponse current_;             // the message being written
  int cache_hits_ = 0;                     // guarded by mu_
  bool hold_ = false;                      // guarded by mu_: Submit not answered yet
  bool writing_ = false;                   // guarded by mu_
  bool broken_ = false;                    // guarded by mu_: a write failed
  bool finished_ = false;                  // guarded by mu_: Finish called
  bool scheduler_done_ = false;            // guarded by mu_
  bool grpc_done_ = false;                 // guarded by mu_
  absl::Status final_status_;              // guarded by mu_
};

VisionServicer::VisionServicer(EncodeScheduler* scheduler, VisionMetrics* metrics, std::string model_id)
    : scheduler_(scheduler), metrics_(metrics), model_id_(std::move(model_id)) {}

grpc::ServerWriteReactor<pb::EncodeResponse>* VisionServicer::Encode(grpc::CallbackServerContext* context,
                                                                     const pb::EncodeRequest* request) {
  auto* reactor = new EncodeReactor(this, context);
  reactor->Start(*request);
  return reactor;
}

grpc::ServerUnaryReactor* VisionServicer::GetModelInfo(grpc::CallbackServerContext* context,
                                                       const pb::GetVisionModelInfoRequest*,
                                                       pb::VisionModelInfo* info) {
  const EncoderInfo& e = scheduler_->encoder_info();
  info->set_model_id(model_id_);
  info->set_patch_size(static_cast<uint32_t>(e.patch_size));
  info->set_temporal_patch_size(static_cast<uint32_t>(e.temporal_patch_size));
  info->set_spatial_merge_size(static_cast<uint32_t>(e.spatial_merge_size));
  info->set_out_hidden_size(static_cast<uint32_t>(e.out_hidden_size));
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* VisionServicer::GetLoad(grpc::CallbackServerContext* context, const pb::GetLoadRequest*,
                                                  pb::LoadReport* report) {
  SchedulerStats s = scheduler_->stats();
  report->set_num_running(static_cast<uint32_t>(s.running));
  report->set_num_waiting(static_cast<uint32_t>(s.waiting));
  report->set_draining(draining_);
  report->set_timestamp_unix_ms(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count()));
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace qwen::vision

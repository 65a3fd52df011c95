#include "text_service/server/text_servicer.h"

#include <chrono>
#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "server_common/grpc_status.h"

namespace qwen::text {

using Clock = std::chrono::steady_clock;

// One Generate call. Lifetime: deleted when both gRPC is done with it (OnDone) and the engine has
// delivered its final update, whichever comes last — the engine may still call back after a
// client cancel until its abort is processed.
class TextServicer::GenerateReactor final
    : public grpc::ServerWriteReactor<qwen35::v1::GenerateResponse> {
 public:
  GenerateReactor(TextServicer* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context), received_(Clock::now()) {
    ++service_->open_streams_;
  }

  void Start(const qwen35::v1::GenerateRequest& proto) {
    if (service_->draining_) return Reject(absl::UnavailableError("the text service is draining"));
    absl::StatusOr<GenerateRequest> request = FromProto(proto, service_->defaults_);
    if (!request.ok()) return Reject(request.status());
    request_id_ = request->request_id;
    prompt_tokens_ = static_cast<int64_t>(request->prompt.size());
    {
      // Started goes first; engine updates that arrive before Submit returns queue behind it.
      std::lock_guard<std::mutex> lock(mu_);
      qwen35::v1::GenerateResponse started;
      started.mutable_started()->set_prompt_tokens(static_cast<uint32_t>(prompt_tokens_));
      pending_.push_back(std::move(started));
      hold_ = true;
    }
    absl::Status submitted = service_->engine_->Submit(
        std::move(*request), [this](const StreamUpdate& u) { OnEngineUpdate(u); });
    if (!submitted.ok()) {
      if (submitted.code() == absl::StatusCode::kFailedPrecondition) {
        submitted = absl::UnavailableError(std::string(submitted.message()));
      }
      return Reject(submitted);
    }
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = false;
    WriteNextLocked();
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok && !broken_) {
      // The client is gone: stop generating for it; the engine's final update ends the call.
      broken_ = true;
      lock.unlock();
      service_->engine_->Abort(request_id_);
      lock.lock();
    }
    WriteNextLocked();
  }

  void OnCancel() override {
    if (!request_id_.empty()) service_->engine_->Abort(request_id_);
  }

  void OnDone() override {
    --service_->open_streams_;
    std::unique_lock<std::mutex> lock(mu_);
    grpc_done_ = true;
    if (engine_done_) {
      lock.unlock();
      delete this;
    }
  }

 private:
  void Reject(const absl::Status& status) {
    service_->metrics_->rejected.Increment();
    engine_done_ = true;  // the engine never saw this request
    Finish(serving::ToGrpcStatus(status));
  }

  // Called on the engine thread; never blocks on the network.
  void OnEngineUpdate(const StreamUpdate& u) {
    const Clock::time_point now = Clock::now();
    qwen35::v1::GenerateResponse chunk_msg;
    if (!u.tokens.empty()) {
      auto* chunk = chunk_msg.mutable_chunk();
      for (const GeneratedToken& t : u.tokens) {
        chunk->add_token_ids(t.token);
        if (want_logprobs_) chunk->add_logprobs(t.logprob);
        if (!t.top_logprobs.empty()) {
          auto* top = chunk->add_top();
          for (const TokenLogprob& tl : t.top_logprobs) {
            top->add_token_ids(tl.token);
            top->add_logprobs(tl.logprob);
          }
        }
        // Logprobs of the chosen token are only sent when asked for; GeneratedToken always has one.
      }
      TextMetrics& m = *service_->metrics_;
      if (completion_tokens_ == 0) {
        first_token_ = now;
        m.ttft.Observe(std::chrono::duration<double>(now - received_).count());
      } else {
        m.inter_token.Observe(std::chrono::duration<double>(now - last_token_).count());
      }
      last_token_ = now;
      completion_tokens_ += static_cast<int64_t>(u.tokens.size());
      m.generation_tokens.Increment(static_cast<double>(u.tokens.size()));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!u.tokens.empty()) EnqueueLocked(std::move(chunk_msg));
    if (!u.finished) return;
    TextMetrics& m = *service_->metrics_;
    m.e2e.Observe(std::chrono::duration<double>(now - received_).count());
    QWEN_LOG(Info)
        << "request_id=" << request_id_ << " finished reason=" << FinishReasonName(u.finish_reason)
        << " prompt_tokens=" << u.prompt_tokens << " completion_tokens=" << u.completion_tokens
        << " e2e_ms=" << std::chrono::duration<double, std::milli>(now - received_).count()
        << (u.error.ok() ? "" : absl::StrCat(" error=\"", std::string(u.error.message()), "\""));
    m.finished.Add({{"reason", FinishReasonName(u.finish_reason)}}).Increment();
    m.prompt_tokens.Increment(static_cast<double>(u.prompt_tokens));
    if (u.finish_reason == FinishReason::kError) {
      final_status_ = serving::ToGrpcStatus(absl::InternalError(std::string(u.error.message())));
    } else if (u.finish_reason == FinishReason::kAbort) {
      final_status_ = context_->IsCancelled()
                          ? grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client")
                          : grpc::Status(grpc::StatusCode::CANCELLED, "aborted");
    }
    if (u.finish_reason != FinishReason::kError && u.finish_reason != FinishReason::kAbort) {
      qwen35::v1::GenerateResponse fin;
      auto* f = fin.mutable_finished();
      f->set_reason(ToProto(u.finish_reason));
      f->set_matched_stop_token(u.matched_stop_token);
      f->mutable_usage()->set_prompt_tokens(static_cast<uint32_t>(u.prompt_tokens));
      f->mutable_usage()->set_completion_tokens(static_cast<uint32_t>(u.completion_tokens));
      auto* timing = f->mutable_timing();
      if (completion_tokens_ > 0) {
        timing->set_ttft_s(std::chrono::duration<double>(first_token_ - received_).count());
        timing->set_decode_s(std::chrono::duration<double>(now - first_token_).count());
      }
      timing->set_total_s(std::chrono::duration<double>(now - received_).count());
      pending_.push_back(std::move(fin));
    }
    finishing_ = true;
    engine_done_ = true;
    WriteNextLocked();
  }

  // Queues a message; token chunks queued behind a slow writer are merged into one.
  void EnqueueLocked(qwen35::v1::GenerateResponse msg) {
    if (msg.has_chunk() && !pending_.empty() && pending_.back().has_chunk()) {
      pending_.back().mutable_chunk()->MergeFrom(msg.chunk());
    } else {
      pending_.push_back(std::move(msg));
    }
    WriteNextLocked();
  }

  void WriteNextLocked() {
    if (writing_ || finished_called_ || hold_) return;
    if (broken_) {
      pending_.clear();
      if (finishing_) {
        finished_called_ = true;
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client stream broke"));
      }
      return;
    }
    if (!pending_.empty()) {
      current_ = std::move(pending_.front());
      pending_.pop_front();
      writing_ = true;
      StartWrite(&current_);
      return;
    }
    if (finishing_) {
      finished_called_ = true;
      Finish(final_status_);
    }
  }

  TextServicer* service_;
  grpc::CallbackServerContext* context_;
  std::string request_id_;
  const Clock::time_point received_;
  Clock::time_point first_token_, last_token_;
  int64_t prompt_tokens_ = 0;
  int64_t completion_tokens_ = 0;
  bool want_logprobs_ = false;

  std::mutex mu_;
  std::deque<qwen35::v1::GenerateResponse> pending_;  // guarded by mu_
  qwen35::v1::GenerateResponse current_;              // the message being written
  bool writing_ = false;                              // guarded by mu_
  bool hold_ = false;                                 // guarded by mu_: Submit not answered yet
  bool broken_ = false;                               // guarded by mu_: a write failed
  bool finishing_ = false;                            // guarded by mu_
  bool finished_called_ = false;                      // guarded by mu_
  bool grpc_done_ = false;                            // guarded by mu_
  bool engine_done_ = false;                          // guarded by mu_
  grpc::Status final_status_ = grpc::Status::OK;      // guarded by mu_

  friend class TextServicer;
};

TextServicer::TextServicer(Engine* engine, RequestDefaults defaults, TextMetrics* metrics,
                           std::string model_id, int64_t max_running)
    : engine_(engine),
      defaults_(std::move(defaults)),
      metrics_(metrics),
      model_id_(std::move(model_id)),
      max_running_(max_running) {}

grpc::ServerWriteReactor<qwen35::v1::GenerateResponse>* TextServicer::Generate(
    grpc::CallbackServerContext* context, const qwen35::v1::GenerateRequest* request) {
  auto* reactor = new GenerateReactor(this, context);
  reactor->want_logprobs_ = request->logprobs().logprobs();
  reactor->Start(*request);
  return reactor;
}

grpc::ServerUnaryReactor* TextServicer::Abort(grpc::CallbackServerContext* context,
                                              const qwen35::v1::AbortRequest* request,
                                              qwen35::v1::AbortResponse* response) {
  for (const std::string& id : request->request_ids()) {
    if (engine_->Abort(id)) {
      response->add_aborted(id);
    } else {
      response->add_not_found(id);
    }
  }
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* TextServicer::GetModelInfo(grpc::CallbackServerContext* context,
                                                     const qwen35::v1::GetModelInfoRequest*,
                                                     qwen35::v1::TextModelInfo* info) {
  const core::ModelConfig& mc = engine_->backend().model_config();
  info->set_model_id(model_id_);
  info->set_max_context_len(static_cast<uint32_t>(engine_->max_context()));
  info->set_vocab_size(static_cast<uint32_t>(mc.text.vocab_size));
  info->set_hidden_size(static_cast<uint32_t>(mc.text.hidden_size));
  for (int64_t id : defaults_.generation.eos_token_ids) info->add_eos_token_ids(id);
  info->set_image_token_id(mc.image_token_id);
  info->set_video_token_id(mc.video_token_id);
  info->set_vision_start_token_id(mc.vision_start_token_id);
  info->set_vision_end_token_id(mc.vision_end_token_id);
  info->set_max_running_requests(static_cast<uint32_t>(max_running_));
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* TextServicer::GetLoad(grpc::CallbackServerContext* context,
                                                const qwen35::v1::GetLoadRequest*,
                                                qwen35::v1::LoadReport* report) {
  EngineStats s = engine_->Stats();
  report->set_num_running(static_cast<uint32_t>(s.running));
  report->set_num_waiting(static_cast<uint32_t>(s.waiting));
  report->set_state_usage(
      max_running_ > 0 ? static_cast<float>(s.running) / static_cast<float>(max_running_) : 0.f);
  report->set_free_state_slots(
      static_cast<uint32_t>(std::max<int64_t>(0, max_running_ - s.running)));
  report->set_draining(draining_);
  report->set_timestamp_unix_ms(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count()));
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace qwen::text

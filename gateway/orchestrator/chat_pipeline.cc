#include "gateway/orchestrator/chat_pipeline.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "qwen35/v1/text.grpc.pb.h"
#include "server_common/grpc_status.h"

namespace qwen::gateway {
namespace {

namespace pb = qwen35::v1;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point from, Clock::time_point to) { return std::chrono::duration<double>(to - from).count(); }

// Why the client's call is over: its deadline, or a cancel.
absl::Status ClientGone(const DownstreamContext& call) {
  if (call.parent != nullptr && call.parent->deadline() <= std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError("the request's deadline passed");
  }
  if (call.parent == nullptr && call.deadline <= std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError("the request's deadline passed");
  }
  return absl::CancelledError("the client cancelled the request");
}

bool SendDelta(ChatSink& sink, const std::string& request_id, pb::ChatDelta delta) {
  pb::ChatResponse response;
  response.set_request_id(request_id);
  *response.mutable_delta() = std::move(delta);
  return sink.Send(response);
}

bool RetryableBeforeFirstToken(grpc::StatusCode code) {
  return code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::UNAVAILABLE;
}

}  // namespace

ChatOutcome ChatPipeline::Run(const pb::ChatRequest& request, const DownstreamContext& call, Clock::time_point received,
                              ChatSink& sink) const {
  ChatOutcome out;
  auto fail = [&](absl::Status status) {
    out.status = std::move(status);
    out.timing.set_total_s(Seconds(received, Clock::now()));
    return out;
  };
  absl::StatusOr<PreparedChat> prepared = PrepareChat(request, options_.limits);
  if (!prepared.ok()) return fail(prepared.status());
  out.num_images = prepared->num_images;
  out.num_videos = prepared->num_videos;

  // Render errors are the request's fault: raise_exception keeps its exact message.
  absl::StatusOr<std::string> prompt = bundle_->chat_template().Render(prepared->template_request);
  if (!prompt.ok()) return fail(absl::InvalidArgumentError(std::string(prompt.status().message())));
  absl::StatusOr<std::vector<int32_t>> prompt_ids = bundle_->tokenizer().Encode(*prompt);
  if (!prompt_ids.ok()) return fail(absl::InvalidArgumentError(std::string(prompt_ids.status().message())));

  absl::StatusOr<ResponseBuilder> builder = ResponseBuilder::Create(
      bundle_->tokenizer(), {.stop_strings = {request.stop().begin(), request.stop().end()},
                             .thinking_enabled = prepared->thinking_enabled,
                             .tools = prepared->tools,
                             .logprobs = request.logprobs().logprobs() || request.logprobs().top_logprobs() > 0,
                             .call_id_generator = nullptr});
  if (!builder.ok()) return fail(builder.status());
  if (call.Cancelled()) return fail(ClientGone(call));

  const Clock::time_point vision_start = Clock::now();
  absl::StatusOr<std::vector<VisionOutput>> vision = vision_->EncodeAll(call, prepared->media, &out.vision_calls);
  if (!prepared->media.empty()) out.timing.set_vision_s(Seconds(vision_start, Clock::now()));
  if (!vision.ok()) {
    const absl::StatusCode code = vision.status().code();
    if ((code == absl::StatusCode::kCancelled || code == absl::StatusCode::kDeadlineExceeded) && call.Cancelled()) {
      return fail(ClientGone(call));
    }
    return fail(vision.status());
  }

  pb::GenerateRequest generate;
  PromptCounts counts;
  absl::Status assembled = AssemblePrompt(*prompt_ids, std::move(*vision), *bundle_, options_.expand, &generate, &counts);
  if (!assembled.ok()) return fail(assembled);
  out.usage.set_prompt_tokens(static_cast<uint32_t>(generate.input_ids_size()));
  out.usage.set_image_tokens(static_cast<uint32_t>(counts.image_tokens));
  out.usage.set_video_tokens(static_cast<uint32_t>(counts.video_tokens));
  // Unset sampling fields stay unset: the text service fills them from generation_config.json.
  if (request.has_sampling()) *generate.mutable_sampling() = request.sampling();
  if (request.max_tokens() > 0) generate.mutable_stop()->set_max_tokens(request.max_tokens());
  if (request.has_logprobs()) *generate.mutable_logprobs() = request.logprobs();

  Generate(generate, call, received, *builder, sink, out);
  out.timing.set_total_s(Seconds(received, Clock::now()));
  return out;
}

void ChatPipeline::Generate(pb::GenerateRequest& generate, const DownstreamContext& call, Clock::time_point received,
                            ResponseBuilder& builder, ChatSink& sink, ChatOutcome& out) const {
  const Clock::time_point queue_start = Clock::now();
  Clock::time_point first_token;
  for (int attempt = 1;; ++attempt) {
    out.text_attempts = attempt;
    // A retry gets its own id: the replica that refused may still hold the first one briefly.
    generate.set_request_id(attempt == 1 ? call.request_id : absl::StrCat(call.request_id, "-a", attempt));
    std::unique_ptr<grpc::ClientContext> context = call.NewClientContext();
    // A new call on the round_robin channel is a new pick: the next READY replica in the
    // rotation, so a retry lands on another replica unless concurrent picks wrap the rotation.
    std::unique_ptr<pb::TextGenerator::Stub> stub = pb::TextGenerator::NewStub(text_->channel());
    std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader = stub->Generate(context.get(), generate);

    pb::GenerateResponse message;
    pb::Finished finished;
    bool started = false, got_finished = false, client_gone = false;
    while (reader->Read(&message)) {
      if (message.has_started() && !started) {
        started = true;
        out.timing.set_queue_s(Seconds(queue_start, Clock::now()));
      } else if (message.has_chunk()) {
        if (!out.got_first_token) {
          out.got_first_token = true;
          first_token = Clock::now();
          out.timing.set_ttft_s(Seconds(received, first_token));
        }
        pb::ChatDelta delta = builder.AddChunk(message.chunk());
        if (!ResponseBuilder::Empty(delta) && !SendDelta(sink, call.request_id, std::move(delta))) client_gone = true;
        // A matched stop string ends the answer: the rest of the generation is not wanted, and
        // cancelling the stream frees the sequence's state on the replica.
        if (client_gone || builder.stopped()) {
          context->TryCancel();
          break;
        }
      } else if (message.has_finished()) {
        finished = message.finished();
        got_finished = true;
      }
    }
    if (client_gone || builder.stopped()) {
      while (reader->Read(&message)) {
      }
    }
    const grpc::Status status = reader->Finish();
    if (client_gone) {
      out.status = absl::CancelledError("the client went away");
      return;
    }

    if (!builder.stopped() && !got_finished) {
      if (status.ok()) {
        out.status = absl::InternalError("the text stream ended without Finished");
        return;
      }
      if (!out.got_first_token && RetryableBeforeFirstToken(status.error_code()) &&
          attempt < options_.text_max_attempts && !call.Cancelled()) {
        QWEN_LOG(Warning) << "request_id=" << call.request_id << " text attempt " << attempt << " on "
                          << context->peer() << " failed before the first token ("
                          << absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())) << ": "
                          << status.error_message() << "); retrying on another replica";
        std::this_thread::sleep_for(options_.retry_backoff * attempt);
        continue;
      }
      if (call.Cancelled()) {
        out.status = ClientGone(call);
      } else {
        out.status = absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                  absl::StrCat("text generation: ", status.error_message()));
      }
      return;
    }

    // The answer is complete: a stop string, or the text service's Finished.
    pb::ChatDelta tail = builder.Finish();
    pb::ChatResponse last;
    last.set_request_id(call.request_id);
    pb::ChatFinished* f = last.mutable_finished();
    const bool stop_string = builder.stopped();
    f->set_reason(builder.FinishReason(stop_string ? pb::FINISH_REASON_STOP : finished.reason()));
    if (stop_string) f->set_matched_stop(builder.matched_stop());
    out.reason = f->reason();
    out.usage.set_completion_tokens(
        static_cast<uint32_t>(stop_string ? builder.completion_tokens() : finished.usage().completion_tokens()));
    const Clock::time_point now = Clock::now();
    if (out.got_first_token) out.timing.set_decode_s(Seconds(first_token, now));
    out.timing.set_total_s(Seconds(received, now));
    *f->mutable_usage() = out.usage;
    *f->mutable_timing() = out.timing;
    if ((!ResponseBuilder::Empty(tail) && !SendDelta(sink, call.request_id, std::move(tail))) || !sink.Send(last)) {
      out.status = absl::CancelledError("the client went away");
      return;
    }
    out.status = absl::OkStatus();
    return;
  }
}

}  // namespace qwen::gateway

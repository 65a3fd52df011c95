// qwen35 chat: a client of qwen35.v1.Gateway/Chat that streams one answer to the terminal.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "qwen35/v1/gateway.grpc.pb.h"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"

namespace qwen::tools {
namespace {

namespace pb = qwen35::v1;

const std::vector<FlagSpec> kFlags = {
    {"target", "gateway address (default 127.0.0.1:50050)"},
    {"text", "the user message text", false, true},
    {"image", "comma-separated image files attached before the text"},
    {"video", "comma-separated video files attached before the text"},
    {"system", "a system message"},
    {"max-tokens", "most tokens to generate (default: the server's)"},
    {"temperature", "sampling temperature (default: generation_config.json)"},
    {"top-p", "nucleus sampling mass"},
    {"seed", "seed for reproducible sampling"},
    {"stop", "comma-separated stop strings"},
    {"no-thinking", "disable the reasoning phase (enable_thinking=false)", true},
    {"timeout-s", "deadline of the whole call in seconds (default 300)"},
};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

absl::Status Run(const Args& args) {
  pb::ChatRequest req;
  if (args.Has("system")) {
    auto* m = req.add_messages();
    m->set_role("system");
    m->add_content()->set_text(args.Get("system"));
  }
  auto* user = req.add_messages();
  user->set_role("user");
  for (const char* kind : {"image", "video"}) {
    if (!args.Has(kind)) continue;
    for (absl::string_view path : absl::StrSplit(args.Get(kind), ',', absl::SkipEmpty())) {
      QWEN_ASSIGN_OR_RETURN(std::string bytes, ReadFile(std::string(path)));
      auto* part = user->add_content();
      if (std::string(kind) == "image") {
        part->mutable_image()->set_data(std::move(bytes));
      } else {
        part->mutable_video()->set_data(std::move(bytes));
      }
    }
  }
  user->add_content()->set_text(args.Get("text"));
  if (args.GetBool("no-thinking")) req.set_enable_thinking(false);
  QWEN_ASSIGN_OR_RETURN(int64_t max_tokens, args.GetInt("max-tokens", 0));
  if (max_tokens > 0) req.set_max_tokens(static_cast<uint32_t>(max_tokens));
  if (args.Has("temperature")) {
    QWEN_ASSIGN_OR_RETURN(double t, args.GetDouble("temperature", 1.0));
    req.mutable_sampling()->set_temperature(static_cast<float>(t));
  }
  if (args.Has("top-p")) {
    QWEN_ASSIGN_OR_RETURN(double p, args.GetDouble("top-p", 1.0));
    req.mutable_sampling()->set_top_p(static_cast<float>(p));
  }
  if (args.Has("seed")) {
    QWEN_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 0));
    req.mutable_sampling()->set_seed(static_cast<uint64_t>(seed));
  }
  for (absl::string_view s : absl::StrSplit(args.Get("stop"), ',', absl::SkipEmpty())) req.add_stop(std::string(s));
  QWEN_ASSIGN_OR_RETURN(double timeout_s, args.GetDouble("timeout-s", 300));

  grpc::ChannelArguments channel_args;
  channel_args.SetMaxSendMessageSize(256 << 20);
  auto channel = grpc::CreateCustomChannel(args.Get("target", "127.0.0.1:50050"),
                                           grpc::InsecureChannelCredentials(), channel_args);
  auto stub = pb::Gateway::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::milliseconds>(
                                                          std::chrono::duration<double>(timeout_s)));
  auto reader = stub->Chat(&ctx, req);
  pb::ChatResponse resp;
  bool in_reasoning = false;
  std::string request_id;
  int64_t deltas = 0;
  while (reader->Read(&resp)) {
    request_id = resp.request_id();
    if (resp.has_delta()) {
      ++deltas;
      const pb::ChatDelta& d = resp.delta();
      if (!d.reasoning().empty()) {
        if (!in_reasoning) std::fputs("<think>\n", stdout);
        in_reasoning = true;
        std::fputs(d.reasoning().c_str(), stdout);
      }
      if (!d.content().empty()) {
        if (in_reasoning) std::fputs("\n</think>\n", stdout);
        in_reasoning = false;
        std::fputs(d.content().c_str(), stdout);
      }
      for (const pb::ToolCall& call : d.tool_calls()) {
        std::printf("\n[tool call %s] %s(%s)\n", call.id().c_str(), call.name().c_str(), call.arguments_json().c_str());
      }
      std::fflush(stdout);
    } else if (resp.has_finished()) {
      const pb::ChatFinished& f = resp.finished();
      if (in_reasoning) std::fputs("\n</think>", stdout);
      std::fputs("\n", stdout);
      std::fprintf(stderr,
                   "[chat] request %s finished: %s; prompt %u tokens (%u image, %u video), completion %u; "
                   "ttft %.1f ms, total %.1f ms\n",
                   request_id.c_str(), pb::FinishReason_Name(f.reason()).c_str(), f.usage().prompt_tokens(),
                   f.usage().image_tokens(), f.usage().video_tokens(), f.usage().completion_tokens(),
                   f.timing().ttft_s() * 1e3, f.timing().total_s() * 1e3);
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    // The delta count tells a caller whether the failure came before or after streaming began.
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("gateway: ", status.error_message(), " (after ", deltas, " streamed deltas)"));
  }
  return absl::OkStatus();
}

}  // namespace

int RunChat(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, kFlags);
  if (!args.ok()) {
    std::fprintf(stderr, "qwen35 chat: %s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  if (args->help()) {
    std::fputs(Args::Usage("chat", "Send one chat turn to the gateway and stream the answer.", kFlags).c_str(), stdout);
    return 0;
  }
  absl::Status s = Run(*args);
  return s.ok() ? 0 : ReportError("chat", s);
}

}  // namespace qwen::tools

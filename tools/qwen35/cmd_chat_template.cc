// qwen35 chat-template (shared/REFERENCE_CASES.md, "The CLI contract"): renders a Hugging Face
// chat template for a request, byte for byte as transformers' apply_chat_template(tokenize=False).
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/chat_template/chat_template.h"
#include "nlohmann/json.hpp"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"

namespace qwen::tools {
namespace {

const std::vector<FlagSpec>& ChatTemplateFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"template", "chat_template.jinja", false, true},
      {"request", "request.json: {messages, tools?, add_generation_prompt, enable_thinking?, "
                  "add_vision_id?, other template kwargs}",
       false, true},
  };
  return kFlags;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream buf;
  buf << in.rdbuf();
  return std::move(buf).str();
}

}  // namespace

int RunChatTemplate(int argc, char** argv) {
  static const char kSummary[] =
      "Prints the prompt a chat template renders for a request (no trailing newline added).";
  absl::StatusOr<Args> args = Args::Parse(argc, argv, ChatTemplateFlags());
  if (!args.ok()) {
    std::fprintf(stderr, "qwen35 chat-template: %s\n\n%s",
                 std::string(args.status().message()).c_str(),
                 Args::Usage("chat-template", kSummary, ChatTemplateFlags()).c_str());
    return 2;
  }
  if (args->help()) {
    std::printf("%s", Args::Usage("chat-template", kSummary, ChatTemplateFlags()).c_str());
    return 0;
  }
  absl::StatusOr<std::string> source = ReadFile(args->Get("template"));
  if (!source.ok()) return ReportError("chat-template", source.status());
  absl::StatusOr<std::string> request_text = ReadFile(args->Get("request"));
  if (!request_text.ok()) return ReportError("chat-template", request_text.status());
  // ordered_json: key order reaches the prompt through tojson, as Python dicts keep it.
  const nlohmann::ordered_json request =
      nlohmann::ordered_json::parse(*request_text, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) {
    return ReportError("chat-template",
                       absl::InvalidArgumentError(absl::StrCat(args->Get("request"),
                                                               " is not valid JSON")));
  }
  absl::StatusOr<std::string> prompt = gateway::RenderChatTemplate(*source, request);
  if (!prompt.ok()) {
    if (gateway::IsChatTemplateException(prompt.status())) {
      // The template's own message, verbatim, so callers can match it.
      std::fprintf(stderr, "%s\n", std::string(prompt.status().message()).c_str());
      return 1;
    }
    return ReportError("chat-template", prompt.status());
  }
  std::fwrite(prompt->data(), 1, prompt->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace qwen::tools

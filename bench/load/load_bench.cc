// load_bench: drives a running gateway (e.g. `qwen35 serve-local --port 50050`) with N concurrent
// chat streams and reports throughput, time to first token and inter-token latency percentiles.
// A benchmark, not a test: it asserts nothing and its numbers depend on the machine.
//
//   load_bench --target 127.0.0.1:50050 --concurrency 8 --requests 32 --max-tokens 64 [--image F]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "qwen35/v1/gateway.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50050", "gateway address");
ABSL_FLAG(int, concurrency, 8, "streams in flight at once");
ABSL_FLAG(int, requests, 32, "total requests");
ABSL_FLAG(int, max_tokens, 64, "max_tokens per request");
ABSL_FLAG(std::string, image, "", "optional image attached to every request");
ABSL_FLAG(std::string, text, "Write a short story about a lighthouse keeper.", "user message");

namespace {

using Clock = std::chrono::steady_clock;
namespace pb = qwen35::v1;

struct Sample {
  bool ok = false;
  double ttft_s = 0;
  double total_s = 0;
  int tokens = 0;  // completion tokens from usage
  std::vector<double> gaps_s;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));
  const int requests = std::max(1, absl::GetFlag(FLAGS_requests));
  std::string image;
  if (!absl::GetFlag(FLAGS_image).empty()) {
    std::ifstream f(absl::GetFlag(FLAGS_image), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    image = ss.str();
    if (image.empty()) {
      std::fprintf(stderr, "load_bench: cannot read %s\n", absl::GetFlag(FLAGS_image).c_str());
      return 2;
    }
  }
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(256 << 20);
  auto channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), args);
  auto stub = pb::Gateway::NewStub(channel);

  std::atomic<int> next{0};
  std::mutex mu;
  std::vector<Sample> samples;
  std::vector<std::string> errors;
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < concurrency; ++w) {
    workers.emplace_back([&, w] {
      while (true) {
        const int i = next.fetch_add(1);
        if (i >= requests) return;
        pb::ChatRequest req;
        auto* msg = req.add_messages();
        msg->set_role("user");
        if (!image.empty()) msg->add_content()->mutable_image()->set_data(image);
        msg->add_content()->set_text(absl::GetFlag(FLAGS_text));
        req.set_max_tokens(static_cast<uint32_t>(absl::GetFlag(FLAGS_max_tokens)));
        req.set_enable_thinking(false);
        req.mutable_sampling()->set_temperature(0.8f);
        req.mutable_sampling()->set_seed(static_cast<uint64_t>(i));
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
        Sample s;
        const Clock::time_point t0 = Clock::now();
        Clock::time_point last = t0;
        bool first = true;
        auto reader = stub->Chat(&ctx, req);
        pb::ChatResponse resp;
        while (reader->Read(&resp)) {
          const Clock::time_point now = Clock::now();
          if (resp.has_delta() && (!resp.delta().content().empty() || !resp.delta().reasoning().empty())) {
            if (first) {
              s.ttft_s = std::chrono::duration<double>(now - t0).count();
              first = false;
            } else {
              s.gaps_s.push_back(std::chrono::duration<double>(now - last).count());
            }
            last = now;
          }
          if (resp.has_finished()) s.tokens = static_cast<int>(resp.finished().usage().completion_tokens());
        }
        grpc::Status st = reader->Finish();
        s.total_s = std::chrono::duration<double>(Clock::now() - t0).count();
        s.ok = st.ok();
        std::lock_guard<std::mutex> lock(mu);
        if (!st.ok()) errors.push_back(std::to_string(static_cast<int>(st.error_code())) + " " + st.error_message());
        samples.push_back(std::move(s));
        (void)w;
      }
    });
  }
  for (auto& t : workers) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> ttft, itl, e2e;
  long total_tokens = 0;
  int ok = 0;
  for (const Sample& s : samples) {
    if (!s.ok) continue;
    ++ok;
    ttft.push_back(s.ttft_s);
    e2e.push_back(s.total_s);
    itl.insert(itl.end(), s.gaps_s.begin(), s.gaps_s.end());
    total_tokens += s.tokens;
  }
  std::printf("load_bench: %d/%d requests ok, concurrency %d, %s, wall %.2f s\n", ok, requests, concurrency,
              image.empty() ? "text only" : "one image each", wall);
  std::printf("  throughput: %.1f completion tok/s, %.2f req/s\n", static_cast<double>(total_tokens) / wall,
              static_cast<double>(ok) / wall);
  std::printf("  TTFT ms:    p50 %.1f  p90 %.1f  p99 %.1f\n", 1e3 * Percentile(ttft, 50), 1e3 * Percentile(ttft, 90),
              1e3 * Percentile(ttft, 99));
  std::printf("  ITL ms:     p50 %.1f  p90 %.1f  p99 %.1f\n", 1e3 * Percentile(itl, 50), 1e3 * Percentile(itl, 90),
              1e3 * Percentile(itl, 99));
  std::printf("  e2e s:      p50 %.2f  p90 %.2f  p99 %.2f\n", Percentile(e2e, 50), Percentile(e2e, 90),
              Percentile(e2e, 99));
  for (size_t i = 0; i < std::min<size_t>(errors.size(), 5); ++i) std::printf("  error: %s\n", errors[i].c_str());
  return ok == requests ? 0 : 1;
}

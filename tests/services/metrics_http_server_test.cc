// The /metrics HTTP server of the services (server_common/metrics_http_server.h): scrapes get the
// registry in the text format, other paths and methods get 404 / 405, a taken port is Unavailable.
// Built with cuBLASLt loaded where the build has CUDA: its large static TLS is what broke
// civetweb's small-stack worker threads, so this test also guards against that regression.
#include "server_common/metrics_http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#ifdef QWEN_TEST_WITH_CUBLASLT
#include <cublasLt.h>
#endif

namespace qwen::serving {
namespace {

// Sends `request` to 127.0.0.1:port and returns everything the server answers.
std::string Fetch(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "connect failed";
  }
  send(fd, request.data(), request.size(), 0);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(MetricsHttpServerTest, ServesTheRegistryAndNothingElse) {
#ifdef QWEN_TEST_WITH_CUBLASLT
  EXPECT_GT(cublasLtGetVersion(), 0u);  // cuBLASLt (and its static TLS) is loaded
#endif
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter()
                     .Name("qwen35_test_requests_total")
                     .Help("Requests seen by the test")
                     .Register(*registry);
  family.Add({}).Increment(3);
  auto server = MetricsHttpServer::Start(0, registry);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);

  const std::string ok = Fetch(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << ok;
  EXPECT_NE(ok.find("qwen35_test_requests_total 3"), std::string::npos) << ok;
  // Scrapes see the registry as it is now.
  family.Add({}).Increment(2);
  EXPECT_NE(Fetch(port, "GET /metrics HTTP/1.0\r\n\r\n").find("qwen35_test_requests_total 5"),
            std::string::npos);

  EXPECT_EQ(Fetch(port, "GET /secret HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(Fetch(port, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);

  // The port is taken while the server runs.
  auto second = MetricsHttpServer::Start(port, registry);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  EXPECT_NE(std::string(second.status().message()).find(std::to_string(port)), std::string::npos);

  // Stopping releases it.
  server->reset();
  auto again = MetricsHttpServer::Start(port, registry);
  EXPECT_TRUE(again.ok()) << again.status();
}

}  // namespace
}  // namespace qwen::serving

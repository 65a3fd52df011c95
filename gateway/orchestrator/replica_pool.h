// The replicas of one downstream service (text or vision) behind one gRPC channel.
//
// --text_targets / --vision_targets take either
//   * a gRPC target URI, e.g. "dns:///text.qwen.svc.cluster.local:50052" (a headless Service: one
//     A record per ready pod) — gRPC's own resolver; or "ipv4:///10.0.0.1:50052,10.0.0.2:50052";
//   * a comma-separated list "host:port,host:port" (IP literals or names, e.g. StatefulSet pod
//     names) — resolved here into one ipv4:/// (or ipv6:///) address list.
// Every channel balances with round_robin (a new pick, i.e. the next READY subchannel, per call)
// and runs gRPC client-side health checking against `health_service_name`: a replica whose
// readiness is NOT_SERVING (loading, draining) leaves the rotation within one health-watch update
// and returns when it is SERVING again. gRPC re-resolves a dns:/// name when a connection drops
// (the servers' MAX_CONNECTION_AGE GOAWAY forces that every ~15 min); on top of that a refresh
// thread re-resolves the names every `refresh_interval` and, when the address set changed,
// swaps in a new channel once it is connected (calls in flight keep the old one), so new pods
// take traffic within a refresh interval instead of a connection age.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"

namespace qwen::gateway {

struct HostPort {
  std::string host;  // a name, an IPv4 literal or an IPv6 literal (without brackets)
  std::string port;
};

struct TargetSpec {
  // A gRPC target URI passed to the channel as is (dns:, ipv4:, ipv6:, unix:); for a list, the
  // list itself (logs only).
  std::string uri;
  // Names polled by the refresh thread: the host of a "dns:///host:port" URI (no authority), or
  // the entries of a comma-separated list. Empty = nothing to poll.
  std::vector<HostPort> watched;
  bool is_list = false;  // a comma-separated list (the channel target is built from `watched`)
};

// Parses a --*_targets value. InvalidArgument naming the bad entry (empty, no port, bad port,
// unsupported scheme).
absl::StatusOr<TargetSpec> ParseTargetSpec(std::string_view spec);

// "ipv4:///a:p,b:p" / "ipv6:///[a]:p,..." for resolved addresses ("a:p" or "[v6]:p"). IPv4 is
// preferred when both families are present (one gRPC address URI holds one family).
absl::StatusOr<std::string> AddressListUri(const std::vector<std::string>& addresses);

// Resolves entries (getaddrinfo for names) to sorted, unique "ip:port" / "[ip6]:port" strings.
absl::StatusOr<std::vector<std::string>> ResolveAll(const std::vector<HostPort>& entries);

struct ReplicaPoolOptions {
  std::string health_service_name;  // e.g. "qwen35.v1.TextGenerator"
  // Client keepalive pings. Servers answer pings more frequent than their
  // GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS (gRPC's default: 5 min; server_common
  // keeps it) with GOAWAY "too_many_pings", which would kill long-silent streams (a long prefill or
  // video encode), so stay above it, with a margin for timer jitter.
  std::chrono::milliseconds keepalive_time{std::chrono::minutes(6)};
  std::chrono::milliseconds keepalive_timeout{std::chrono::seconds(20)};
  std::chrono::milliseconds refresh_interval{std::chrono::seconds(30)};  // 0 = no polling
  int max_receive_message_mb = 64;
};

class ReplicaPool {
 public:
  static absl::StatusOr<std::unique_ptr<ReplicaPool>> Create(std::string_view targets, ReplicaPoolOptions options);
  ~ReplicaPool();
  ReplicaPool(const ReplicaPool&) = delete;
  ReplicaPool& operator=(const ReplicaPool&) = delete;

  // The current channel; hold the pointer for the whole call.
  std::shared_ptr<grpc::Channel> channel() const;
  // The target the current channel dials (for logs).
  std::string target() const;

 private:
  ReplicaPool(TargetSpec spec, ReplicaPoolOptions options);
  std::shared_ptr<grpc::Channel> NewChannel(const std::string& target) const;
  // The channel target for the current resolution, and the snapshot compared between refreshes.
  absl::StatusOr<std::pair<std::string, std::vector<std::string>>> Resolve() const;
  void RefreshLoop();

  const TargetSpec spec_;
  const ReplicaPoolOptions options_;
  mutable std::mutex mu_;
  std::shared_ptr<grpc::Channel> channel_;  // guarded by mu_
  std::string target_;                      // guarded by mu_
  std::vector<std::string> snapshot_;       // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  std::condition_variable stop_cv_;
  std::thread refresher_;
};

}  // namespace qwen::gateway

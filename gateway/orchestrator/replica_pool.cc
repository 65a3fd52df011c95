#include "gateway/orchestrator/replica_pool.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/logging.h"
#include "core/status.h"

namespace qwen::gateway {
namespace {

bool IsIpv4(const std::string& host) {
  in_addr a;
  return inet_pton(AF_INET, host.c_str(), &a) == 1;
}
bool IsIpv6(const std::string& host) {
  in6_addr a;
  return inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

// "host:port" or "[v6]:port".
absl::StatusOr<HostPort> ParseHostPort(std::string_view entry, std::string_view what) {
  HostPort hp;
  size_t colon;
  if (!entry.empty() && entry.front() == '[') {
    const size_t close = entry.find(']');
    if (close == std::string_view::npos || close + 1 >= entry.size() || entry[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat(std::string(what), " \"", std::string(entry),
                                                     "\" is not [ipv6]:port"));
    }
    hp.host = std::string(entry.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = entry.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(what), " \"", std::string(entry),
                                                     "\" is not host:port"));
    }
    hp.host = std::string(entry.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(what), " \"", std::string(entry),
                                                     "\": write IPv6 addresses as [addr]:port"));
    }
  }
  hp.port = std::string(entry.substr(colon + 1));
  int port = 0;
  if (!absl::SimpleAtoi(hp.port, &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " \"", std::string(entry),
                                                   "\" has no valid port (1..65535)"));
  }
  return hp;
}

std::string ServiceConfigJson(const std::string& health_service) {
  // round_robin: every call is a new pick; healthCheckConfig: subchannels whose replica reports
  // NOT_SERVING for this service are skipped (pick_first would ignore health).
  return absl::StrCat(R"({"loadBalancingConfig":[{"round_robin":{}}],"healthCheckConfig":{"serviceName":")",
                      health_service, R"("}})");
}

}  // namespace

absl::StatusOr<TargetSpec> ParseTargetSpec(std::string_view spec_in) {
  const std::string spec(absl::StripAsciiWhitespace(absl::string_view(spec_in.data(), spec_in.size())));
  if (spec.empty()) return absl::InvalidArgumentError("the target list is empty");
  TargetSpec out;
  for (const char* scheme : {"dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:"}) {
    if (spec.rfind(scheme, 0) != 0) continue;
    out.uri = spec;
    if (std::string(scheme) == "dns:") {
      // dns:///host:port (no authority) is polled; dns://server/host:port is left to gRPC.
      std::string_view rest = std::string_view(spec).substr(4);
      if (rest.rfind("///", 0) == 0) {
        QWEN_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(rest.substr(3), "target"));
        out.watched.push_back(std::move(hp));
      } else if (rest.rfind("//", 0) != 0) {
        QWEN_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(rest, "target"));
        out.watched.push_back(std::move(hp));
      }
    }
    return out;
  }
  if (spec.find("://") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("target \"", spec, "\": unsupported scheme (use dns:///, ipv4:///, ",
                                                   "ipv6:/// or a comma-separated host:port list)"));
  }
  out.is_list = true;
  out.uri = spec;  // for logs; the channel dials the resolved address list
  for (absl::string_view piece : absl::StrSplit(spec, ',')) {
    piece = absl::StripAsciiWhitespace(piece);
    const std::string_view entry(piece.data(), piece.size());
    if (entry.empty()) return absl::InvalidArgumentError(absl::StrCat("target list \"", spec, "\" has an empty entry"));
    QWEN_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(entry, "target"));
    out.watched.push_back(std::move(hp));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ResolveAll(const std::vector<HostPort>& entries) {
  std::set<std::string> out;
  for (const HostPort& e : entries) {
    if (IsIpv4(e.host)) {
      out.insert(absl::StrCat(e.host, ":", e.port));
      continue;
    }
    if (IsIpv6(e.host)) {
      out.insert(absl::StrCat("[", e.host, "]:", e.port));
      continue;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    const int rc = getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &result);
    if (rc != 0) {
      // A name with no ready pod behind it is normal during roll-outs; keep the others.
      QWEN_LOG(Warning) << "cannot resolve " << e.host << ":" << e.port << ": " << gai_strerror(rc);
      continue;
    }
    for (addrinfo* a = result; a != nullptr; a = a->ai_next) {
      char buf[INET6_ADDRSTRLEN] = {};
      if (a->ai_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, buf, sizeof(buf));
        out.insert(absl::StrCat(buf, ":", e.port));
      } else if (a->ai_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, buf, sizeof(buf));
        out.insert(absl::StrCat("[", buf, "]:", e.port));
      }
    }
    freeaddrinfo(result);
  }
  if (out.empty()) return absl::UnavailableError("no target address resolved");
  return std::vector<std::string>(out.begin(), out.end());
}

absl::StatusOr<std::string> AddressListUri(const std::vector<std::string>& addresses) {
  std::vector<std::string> v4, v6;
  for (const std::string& a : addresses) (a.front() == '[' ? v6 : v4).push_back(a);
  if (v4.empty() && v6.empty()) return absl::InvalidArgumentError("no addresses");
  if (!v4.empty() && !v6.empty()) {
    QWEN_LOG(Warning) << "one channel holds one address family: using the IPv4 addresses, not "
                      << absl::StrJoin(v6, ",");
  }
  return v4.empty() ? absl::StrCat("ipv6:///", absl::StrJoin(v6, ",")) : absl::StrCat("ipv4:///", absl::StrJoin(v4, ","));
}

ReplicaPool::ReplicaPool(TargetSpec spec, ReplicaPoolOptions options)
    : spec_(std::move(spec)), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ReplicaPool>> ReplicaPool::Create(std::string_view targets, ReplicaPoolOptions options) {
  QWEN_ASSIGN_OR_RETURN(TargetSpec spec, ParseTargetSpec(targets));
  std::unique_ptr<ReplicaPool> pool(new ReplicaPool(std::move(spec), std::move(options)));
  auto resolved = pool->Resolve();
  if (!resolved.ok()) {
    // A list of names none of which resolves yet: dial the names through gRPC's resolver until
    // the refresh thread finds addresses.
    if (!pool->spec_.is_list) return resolved.status();
    std::vector<std::string> names;
    for (const HostPort& hp : pool->spec_.watched) names.push_back(absl::StrCat(hp.host, ":", hp.port));
    resolved = std::make_pair(absl::StrCat("dns:///", names.front()), std::vector<std::string>{});
    QWEN_LOG(Warning) << "no address of " << absl::StrJoin(names, ",") << " resolves yet";
  }
  pool->target_ = resolved->first;
  pool->snapshot_ = resolved->second;
  pool->channel_ = pool->NewChannel(pool->target_);
  if (!pool->spec_.watched.empty() && pool->options_.refresh_interval.count() > 0) {
    pool->refresher_ = std::thread([p = pool.get()] { p->RefreshLoop(); });
  }
  return pool;
}

ReplicaPool::~ReplicaPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

std::shared_ptr<grpc::Channel> ReplicaPool::channel() const {
  std::lock_guard<std::mutex> lock(mu_);
  return channel_;
}

std::string ReplicaPool::target() const {
  std::lock_guard<std::mutex> lock(mu_);
  return target_;
}

std::shared_ptr<grpc::Channel> ReplicaPool::NewChannel(const std::string& target) const {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfigJson(options_.health_service_name));
  // Only our service config applies (no TXT-record configs from DNS).
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options_.keepalive_time.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options_.keepalive_timeout.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // Re-resolution after a GOAWAY / dropped connection may happen this often (default 30 s).
  args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 5000);
  args.SetMaxReceiveMessageSize(options_.max_receive_message_mb * 1024 * 1024);
  args.SetMaxSendMessageSize(-1);  // inline embeddings to the text service can be large
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<std::pair<std::string, std::vector<std::string>>> ReplicaPool::Resolve() const {
  if (!spec_.is_list) {
    // gRPC resolves the URI itself; the snapshot only tells the refresh loop when it changed.
    std::vector<std::string> snapshot;
    if (!spec_.watched.empty()) {
      auto addresses = ResolveAll(spec_.watched);
      if (addresses.ok()) snapshot = std::move(*addresses);
    }
    return std::make_pair(spec_.uri, std::move(snapshot));
  }
  QWEN_ASSIGN_OR_RETURN(std::vector<std::string> addresses, ResolveAll(spec_.watched));
  QWEN_ASSIGN_OR_RETURN(std::string uri, AddressListUri(addresses));
  return std::make_pair(std::move(uri), std::move(addresses));
}

void ReplicaPool::RefreshLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_cv_.wait_for(lock, options_.refresh_interval, [this] { return stop_; })) {
    lock.unlock();
    auto resolved = Resolve();
    lock.lock();
    // An empty answer (DNS hiccup, all pods gone) keeps the old channel: it still re-resolves on
    // its own, and swapping to nothing would fail calls that could succeed.
    if (!resolved.ok() || resolved->second.empty() || resolved->second == snapshot_) continue;
    lock.unlock();
    std::shared_ptr<grpc::Channel> fresh = NewChannel(resolved->first);
    // Warm it up so the swap does not add a connection set-up to the next calls.
    fresh->GetState(/*try_to_connect=*/true);
    fresh->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5));
    lock.lock();
    if (stop_) break;
    QWEN_LOG(Info) << "replicas of " << spec_.uri << " changed: [" << absl::StrJoin(snapshot_, ",") << "] -> ["
                   << absl::StrJoin(resolved->second, ",") << "]";
    channel_ = std::move(fresh);
    target_ = resolved->first;
    snapshot_ = resolved->second;
  }
}

}  // namespace qwen::gateway

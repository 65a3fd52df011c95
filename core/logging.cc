#include "core/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace qwen::core {
namespace {
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};

std::string_view Basename(const char* path) {
  std::string_view p(path);
  size_t slash = p.find_last_of('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}
}  // namespace

void SetMinLogLevel(LogLevel level) { g_min_level.store(static_cast<int>(level)); }
LogLevel MinLogLevel() { return static_cast<LogLevel>(g_min_level.load()); }

LogMessage::LogMessage(LogLevel level, const char* file, int line)
    : level_(level), file_(file), line_(line) {}

LogMessage::~LogMessage() {
  static constexpr char kLetters[] = {'D', 'I', 'W', 'E', 'F'};
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  int millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
  std::string line = stream_.str();
  std::string_view base = Basename(file_);
  // One fprintf per message keeps lines from different threads whole.
  std::fprintf(stderr, "[%c %s.%03d %.*s:%d] %s\n", kLetters[static_cast<int>(level_)], stamp, millis,
               static_cast<int>(base.size()), base.data(), line_, line.c_str());
  if (level_ == LogLevel::kFatal) {
    std::fflush(stderr);
    std::abort();
  }
}

}  // namespace qwen::core

// Minimal structured logging to stderr: "[I 2026-11-28 07:55:01.123 file.cc:42] message".
// Logging is a sink, never a control channel; QWEN_CHECK is only for broken invariants (bugs),
// never for bad input.
#pragma once

#include <sstream>
#include <string_view>

namespace qwen::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

// Messages below this level are dropped. Set once from main (a flag), before threads start.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();  // Writes the line atomically; aborts for kFatal.
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};

}  // namespace qwen::core

#define QWEN_LOG(level)                                                      \
  if (::qwen::core::LogLevel::k##level < ::qwen::core::MinLogLevel()) {      \
  } else                                                                     \
    ::qwen::core::LogMessage(::qwen::core::LogLevel::k##level, __FILE__, __LINE__).stream()

#define QWEN_CHECK(cond)                                                               \
  if (cond) {                                                                          \
  } else                                                                               \
    ::qwen::core::LogMessage(::qwen::core::LogLevel::kFatal, __FILE__, __LINE__).stream() \
        << "Check failed: " #cond " "

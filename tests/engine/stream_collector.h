// Test helper: collects one engine request's stream and waits (bounded) for its end.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "text_service/engine/request.h"

namespace qwen::text {

// Collects one request's stream and waits (bounded) for its end.
class Collector {
 public:
  StreamCallback Callback() {
    return [this](const StreamUpdate& u) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& t : u.tokens) tokens_.push_back(t.token);
      ++updates_;
      if (u.finished) {
        EXPECT_FALSE(finished_) << "two finished updates";
        finished_ = true;
        last_ = u;
      }
      cv_.notify_all();
    };
  }
  // Waits until the stream finished; fails the test after 60 s instead of hanging.
  StreamUpdate Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(60), [&] { return finished_; }))
        << "stream hung";
    return last_;
  }
  void WaitForTokens(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(60),
                             [&] { return tokens_.size() >= n || finished_; }));
  }
  std::vector<int64_t> tokens() {
    std::lock_guard<std::mutex> lock(mu_);
    return tokens_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int64_t> tokens_;
  int updates_ = 0;
  bool finished_ = false;
  StreamUpdate last_;
};

}  // namespace qwen::text

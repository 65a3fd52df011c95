// The text service's engine-derived metrics: gauges copy the engine's snapshot, and the
// preemption counter counts each preemption once however often the snapshot is read.
#include "text_service/server/text_metrics.h"

#include <prometheus/registry.h>

#include "gtest/gtest.h"

namespace qwen::text {
namespace {

double Value(prometheus::Registry& r, const std::string& name) {
  for (const prometheus::MetricFamily& f : r.Collect()) {
    if (f.name != name || f.metric.empty()) continue;
    const prometheus::ClientMetric& m = f.metric.front();
    return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
  }
  ADD_FAILURE() << "no metric " << name;
  return -1;
}

TEST(TextMetricsTest, CopiesGaugesAndCountsPreemptionsOnce) {
  prometheus::Registry registry;
  TextMetrics metrics(registry);
  EngineStats s;
  s.running = 3;
  s.waiting = 2;
  s.state_bytes = 4096;
  s.preemptions = 2;
  metrics.Update(s, 4);
  metrics.Update(s, 4);  // the same snapshot again: nothing new
  EXPECT_EQ(Value(registry, "qwen35_text_num_requests_running"), 3);
  EXPECT_EQ(Value(registry, "qwen35_text_num_requests_waiting"), 2);
  EXPECT_EQ(Value(registry, "qwen35_text_state_bytes"), 4096);
  EXPECT_EQ(Value(registry, "qwen35_text_state_slot_usage"), 0.75);
  EXPECT_EQ(Value(registry, "qwen35_text_preemptions_total"), 2);
  s.preemptions = 5;
  metrics.Update(s, 4);
  EXPECT_EQ(Value(registry, "qwen35_text_preemptions_total"), 5);
}

}  // namespace
}  // namespace qwen::text

// The gateway's status-code contract and replica handling over loopback: bad requests name the
// message/part, a replica refusing admission is retried on the other one, a client deadline cancels
// the downstream calls, round_robin spreads calls over a comma-list target, and a replica whose
// readiness is NOT_SERVING gets no new calls.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/services/gateway_stack_test.h"

namespace qwen::gateway::testing {
namespace {

using ::testing::HasSubstr;

void ExpectInvalid(GatewayStack& stack, const pb::ChatRequest& req, const std::string& says) {
  GatewayStack::Result r = stack.Chat(req);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << r.status.error_message();
  EXPECT_THAT(r.status.error_message(), HasSubstr(says));
  EXPECT_TRUE(r.messages.empty());
}

// Calls made before a replica passed its first health check all go to the other one: send chats
// until both replicas have served one, so round_robin alternates from here on.
void WarmUp(GatewayStack& stack) {
  for (int i = 0; i < 100 && stack.text[0]->service->calls * stack.text[1]->service->calls == 0; ++i) {
    ASSERT_TRUE(stack.Chat(UserChat("hi", 2)).status.ok());
  }
  ASSERT_GT(stack.text[0]->service->calls * stack.text[1]->service->calls, 0);
}

TEST(GatewayReplicasTest, BadRequestsAreInvalidArgumentNamingTheMessageAndPart) {
  GatewayStack stack;
  ExpectInvalid(stack, pb::ChatRequest(), "messages is empty");

  pb::ChatRequest bad_role = UserChat("hi", 2);
  bad_role.mutable_messages(0)->set_role("robot");
  ExpectInvalid(stack, bad_role, "messages[0].role \"robot\"");

  pb::ChatRequest bad_args = UserChat("weather?", 2);
  pb::ChatMessage* assistant = bad_args.add_messages();
  assistant->set_role("assistant");
  pb::ToolCall* call = assistant->add_tool_calls();
  call->set_name("get_weather");
  call->set_arguments_json("{city: Paris");
  bad_args.add_messages()->set_role("user");
  bad_args.mutable_messages(2)->add_content()->set_text("and?");
  ExpectInvalid(stack, bad_args, "messages[1].tool_calls[0].arguments_json is not valid JSON");

  pb::ChatRequest empty_part = UserChat("hi", 2);
  empty_part.mutable_messages(0)->add_content();
  ExpectInvalid(stack, empty_part, "messages[0].content[1] is empty");

  // The chat template's own raise_exception reaches the caller verbatim.
  pb::ChatRequest system_image = UserChat("hi", 2);
  pb::ChatMessage* system = system_image.add_messages();
  system->set_role("system");
  system->add_content()->mutable_image()->set_data("image:2:2");
  system_image.mutable_messages()->SwapElements(0, 1);
  ExpectInvalid(stack, system_image, "System message cannot contain images.");

  pb::ChatRequest rejected = UserChat("What is this?", 2);
  rejected.mutable_messages(0)->add_content()->mutable_image()->set_data("image:2:2");
  rejected.mutable_messages(0)->add_content()->mutable_image()->set_data("reject");
  ExpectInvalid(stack, rejected, "messages[0].content[2] (image): item 0: cannot decode the image");

  // A text-service INVALID_ARGUMENT (bad sampling) is the caller's too.
  pb::ChatRequest bad_temperature = UserChat("hi", 2);
  bad_temperature.mutable_sampling()->set_temperature(-1);
  ExpectInvalid(stack, bad_temperature, "temperature");
  EXPECT_EQ(stack.text[0]->service->calls.load(), 1);  // only the last one reached the text tier
}

TEST(GatewayReplicasTest, ResourceExhaustedBeforeTheFirstTokenIsRetriedOnTheOtherReplica) {
  GatewayStack stack(2);
  WarmUp(stack);
  stack.text[0]->service->reject_code = grpc::StatusCode::RESOURCE_EXHAUSTED;
  const int refused_before = stack.text[0]->service->calls;
  const int served_before = stack.text[1]->service->calls;
  const int64_t prompt_tokens_before = stack.text[0]->engine->Stats().prompt_tokens;
  for (int i = 0; i < 4; ++i) {
    GatewayStack::Result r = stack.Chat(UserChat("hi", 3));
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.finished.usage().completion_tokens(), 3u);
  }
  // round_robin alternates, so at least every other request met the full replica first.
  EXPECT_GE(stack.text[0]->service->calls - refused_before, 2);
  EXPECT_EQ(stack.text[0]->engine->Stats().prompt_tokens, prompt_tokens_before);
  EXPECT_EQ(stack.text[1]->service->calls - served_before, 4);
  // Both replicas refusing: bounded attempts, then the code propagates.
  stack.text[1]->service->reject_code = grpc::StatusCode::RESOURCE_EXHAUSTED;
  const int before = stack.text[0]->service->calls + stack.text[1]->service->calls;
  GatewayStack::Result r = stack.Chat(UserChat("hi", 3));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(stack.text[0]->service->calls + stack.text[1]->service->calls - before, 3);
}

TEST(GatewayReplicasTest, DeadlineCancelsTheVisionCalls) {
  GatewayStack stack;
  pb::ChatRequest req = UserChat("What is this?", 2);
  req.mutable_messages(0)->add_content()->mutable_image()->set_data("slow");
  req.mutable_messages(0)->add_content()->mutable_image()->set_data("image:2:2");
  GatewayStack::Result r = stack.Chat(req, std::chrono::milliseconds(300));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  for (int i = 0; i < 200 && stack.vision.cancelled == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(stack.vision.cancelled.load(), 1);
  EXPECT_EQ(stack.text[0]->service->calls.load(), 0);
}

TEST(GatewayReplicasTest, DeadlineCancelsTheTextStream) {
  GatewayStack stack;
  GatewayStack::Result r = stack.Chat(UserChat("Write forever.", 100000), std::chrono::milliseconds(500));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_FALSE(r.messages.empty());  // it was streaming when the deadline hit
  text::Engine& engine = *stack.text[0]->engine;
  for (int i = 0; i < 300 && engine.Stats().running > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(engine.Stats().running, 0);
  EXPECT_EQ(engine.Stats().state_bytes, 0);
  EXPECT_GE(stack.text[0]->aborted(), 1);
  for (int i = 0; i < 100 && stack.service->inflight() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(stack.service->inflight(), 0);
}

TEST(GatewayReplicasTest, RoundRobinOverAListAndNotServingReplicasGetNoCalls) {
  GatewayStack stack(2);
  WarmUp(stack);
  const int a0 = stack.text[0]->service->calls, b0 = stack.text[1]->service->calls;
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(stack.Chat(UserChat("hi", 2)).status.ok());
  EXPECT_GE(stack.text[0]->service->calls - a0, 2);
  EXPECT_GE(stack.text[1]->service->calls - b0, 2);

  // Replica 1 reports NOT_SERVING (draining, say): the health watch takes it out of the rotation.
  stack.text[1]->runner->SetReady(false);
  // The health watch reaches the gateway asynchronously: wait until replica 1 missed 4 in a row.
  for (int i = 0, streak = 0; i < 200 && streak < 4; ++i) {
    const int before = stack.text[1]->service->calls;
    ASSERT_TRUE(stack.Chat(UserChat("hi", 2)).status.ok());
    streak = stack.text[1]->service->calls == before ? streak + 1 : 0;
  }
  const int a = stack.text[0]->service->calls, b = stack.text[1]->service->calls;
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(stack.Chat(UserChat("hi", 2)).status.ok());
  EXPECT_EQ(stack.text[1]->service->calls.load(), b);
  EXPECT_EQ(stack.text[0]->service->calls.load(), a + 6);

  // SERVING again: back in the rotation.
  stack.text[1]->runner->SetReady(true);
  for (int i = 0; i < 200 && stack.text[1]->service->calls == b; ++i) {
    ASSERT_TRUE(stack.Chat(UserChat("hi", 2)).status.ok());
  }
  EXPECT_GT(stack.text[1]->service->calls.load(), b);
}

TEST(GatewayReplicasTest, ConcurrentMultimodalChatsAllComplete) {
  GatewayStack stack(2);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&stack, &ok, i] {
      pb::ChatRequest req = UserChat("Describe.", 4);
      req.mutable_messages(0)->add_content()->mutable_image()->set_data("image:4:4");
      if (i % 2 == 1) req.mutable_messages(0)->add_content()->mutable_video()->set_data("video:2:2:2");
      GatewayStack::Result r = stack.Chat(req);
      EXPECT_TRUE(r.status.ok()) << r.status.error_message();
      if (r.status.ok() && r.finished.usage().image_tokens() == 4u) ++ok;
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_EQ(stack.text[0]->service->calls + stack.text[1]->service->calls, 6);
  std::lock_guard<std::mutex> lock(stack.vision.mu);
  EXPECT_EQ(stack.vision.items.size(), 9u);
}

}  // namespace
}  // namespace qwen::gateway::testing

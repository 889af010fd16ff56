// Tests for InvocationBroker: init outcomes, the invocation cycle, exits and hang-ups.
#include "guest-agent/invocation_broker.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <future>
#include <thread>

#include "common/unique_fd.h"

namespace ember::agent {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A connected socket pair: `runtime` stands for the runtime's connection in next().
struct Connection {
  Connection() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    runtime.reset(fds[0]);
    peer.reset(fds[1]);
  }
  UniqueFd runtime, peer;
};

Invoke make_invoke(const std::string& id) {
  Invoke i;
  i.request_id = id;
  i.payload = "{\"id\":\"" + id + "\"}";
  return i;
}

TEST(InvocationBroker, FirstNextEndsTheInit) {
  InvocationBroker broker;
  Connection c;
  auto before = broker.wait_init(Clock::now() + milliseconds(20));
  EXPECT_EQ(before.kind, InitOutcome::kTimedOut);
  auto next = std::async(std::launch::async, [&] { return broker.next(c.runtime.get()); });
  InitOutcome init = broker.wait_init(Clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(init.kind, InitOutcome::kReady);
  EXPECT_GT(init.at_ns, 0u);
  EXPECT_EQ(broker.post_init_error("X", "{}"), InvocationBroker::Post::kInvalidState);

  ASSERT_TRUE(broker.begin(make_invoke("a")).ok());
  std::optional<Invoke> handed = next.get();
  ASSERT_TRUE(handed.has_value());
  EXPECT_EQ(handed->request_id, "a");
  EXPECT_EQ(broker.post_response("b", "wrong"), InvocationBroker::Post::kUnknownRequestId);
  EXPECT_EQ(broker.post_response("a", "\"ok\""), InvocationBroker::Post::kAccepted);
  EXPECT_EQ(broker.post_response("a", "again"), InvocationBroker::Post::kUnknownRequestId);
  auto outcome = broker.wait_outcome();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, InvokeResult::kSuccess);
  EXPECT_EQ(outcome->payload, "\"ok\"");
}

TEST(InvocationBroker, InitErrorWinsOverTheExitThatFollows) {
  InvocationBroker broker;
  EXPECT_EQ(broker.post_init_error("Runtime.ImportModuleError", "{\"e\":1}"),
            InvocationBroker::Post::kAccepted);
  broker.runtime_exited(RuntimeExit{1, 0, false});
  InitOutcome init = broker.wait_init(Clock::now() + milliseconds(10));
  EXPECT_EQ(init.kind, InitOutcome::kInitError);
  EXPECT_EQ(init.error_type, "Runtime.ImportModuleError");
  EXPECT_EQ(init.error_body, "{\"e\":1}");
  auto refused = broker.begin(make_invoke("a"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("failed to initialize"), std::string::npos);
}

TEST(InvocationBroker, ExitDuringInit) {
  InvocationBroker broker;
  broker.runtime_exited(RuntimeExit{-1, 9, true});
  InitOutcome init = broker.wait_init(Clock::now() + milliseconds(10));
  EXPECT_EQ(init.kind, InitOutcome::kExited);
  EXPECT_TRUE(init.exit.out_of_memory);
  EXPECT_FALSE(broker.begin(make_invoke("a")).ok());
}

TEST(InvocationBroker, ExitDuringAnInvocationEndsIt) {
  InvocationBroker broker;
  Connection c;
  auto next = std::async(std::launch::async, [&] { return broker.next(c.runtime.get()); });
  ASSERT_EQ(broker.wait_init(Clock::now() + std::chrono::seconds(5)).kind, InitOutcome::kReady);
  ASSERT_TRUE(broker.begin(make_invoke("req-9")).ok());
  ASSERT_TRUE(next.get().has_value());
  broker.runtime_exited(RuntimeExit{-1, 9, true});
  auto outcome = broker.wait_outcome();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, InvokeResult::kRuntimeExit);
  EXPECT_EQ(outcome->error_type, "Runtime.OutOfMemory");
  EXPECT_EQ(
      outcome->payload,
      R"({"errorMessage":"RequestId: req-9 Error: Runtime exited with error: signal: killed","errorType":"Runtime.OutOfMemory"})");
  // A dead runtime answers every later invocation at once.
  ASSERT_TRUE(broker.begin(make_invoke("req-10")).ok());
  auto later = broker.wait_outcome();
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->status, InvokeResult::kRuntimeExit);
  EXPECT_NE(later->payload.find("req-10"), std::string::npos);
}

TEST(InvocationBroker, OneInvocationAtATimeAndErrorsArePassedOn) {
  InvocationBroker broker;
  Connection c;
  EXPECT_FALSE(broker.begin(make_invoke("early")).ok());  // init not done
  auto first = std::async(std::launch::async, [&] { return broker.next(c.runtime.get()); });
  ASSERT_EQ(broker.wait_init(Clock::now() + std::chrono::seconds(5)).kind, InitOutcome::kReady);
  ASSERT_TRUE(broker.begin(make_invoke("a")).ok());
  auto busy = broker.begin(make_invoke("b"));
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.error().message().find("already running"), std::string::npos);
  ASSERT_TRUE(first.get().has_value());
  EXPECT_EQ(broker.post_error("a", "Unhandled", "{\"errorType\":\"E\"}"),
            InvocationBroker::Post::kAccepted);
  auto outcome = broker.wait_outcome();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, InvokeResult::kFunctionError);
  EXPECT_EQ(outcome->error_type, "Unhandled");
  EXPECT_TRUE(broker.begin(make_invoke("b")).ok());  // free again
}

TEST(InvocationBroker, NextReturnsWhenItsConnectionHangsUp) {
  InvocationBroker broker;
  Connection c;
  auto next = std::async(std::launch::async, [&] { return broker.next(c.runtime.get()); });
  std::this_thread::sleep_for(milliseconds(50));
  c.peer.reset();
  ASSERT_EQ(next.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_FALSE(next.get().has_value());
}

TEST(InvocationBroker, PipelinedBytesDoNotEndTheWait) {
  InvocationBroker broker;
  Connection c;
  auto next = std::async(std::launch::async, [&] { return broker.next(c.runtime.get()); });
  std::this_thread::sleep_for(milliseconds(50));
  ASSERT_EQ(::send(c.peer.get(), "GET", 3, 0), 3);
  EXPECT_EQ(next.wait_for(milliseconds(100)), std::future_status::timeout);
  ASSERT_TRUE(broker.begin(make_invoke("a")).ok());
  auto handed = next.get();
  ASSERT_TRUE(handed.has_value());
  EXPECT_EQ(handed->request_id, "a");
}

TEST(InvocationBroker, UndeliveredInvocationGoesToTheNextNext) {
  InvocationBroker broker;
  Connection first, second;
  auto next = std::async(std::launch::async, [&] { return broker.next(first.runtime.get()); });
  ASSERT_EQ(broker.wait_init(Clock::now() + std::chrono::seconds(5)).kind, InitOutcome::kReady);
  ASSERT_TRUE(broker.begin(make_invoke("a")).ok());
  std::optional<Invoke> handed = next.get();
  ASSERT_TRUE(handed.has_value());
  broker.undeliver(std::move(*handed));  // sending it failed
  EXPECT_EQ(broker.post_response("a", "x"), InvocationBroker::Post::kUnknownRequestId);
  auto retry = broker.next(second.runtime.get());
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->request_id, "a");
  EXPECT_EQ(broker.post_response("a", "x"), InvocationBroker::Post::kAccepted);
}

TEST(InvocationBroker, CloseWakesEveryone) {
  InvocationBroker broker;
  Connection c;
  auto next = std::async(std::launch::async, [&] { return broker.next(c.runtime.get()); });
  ASSERT_EQ(broker.wait_init(Clock::now() + std::chrono::seconds(5)).kind, InitOutcome::kReady);
  ASSERT_TRUE(broker.begin(make_invoke("a")).ok());
  ASSERT_TRUE(next.get().has_value());
  auto waiting = std::async(std::launch::async, [&] { return broker.wait_outcome(); });
  auto idle = std::async(std::launch::async, [&] { return broker.next(c.runtime.get()); });
  std::this_thread::sleep_for(milliseconds(50));
  broker.close();
  auto outcome = waiting.get();
  EXPECT_FALSE(outcome.ok());
  EXPECT_FALSE(idle.get().has_value());
  EXPECT_FALSE(broker.begin(make_invoke("b")).ok());
}

}  // namespace
}  // namespace ember::agent

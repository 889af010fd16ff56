// Tests for AgentReplies over socket pairs: replies, deadlines, closed sessions, many waits.
#include "host/agent_replies.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace ember::host {
namespace {

using std::chrono::milliseconds;

// A session whose guest end the test holds.
struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    session.emplace(AgentSession::adopt(UniqueFd(fds[0])));
    guest = UniqueFd(fds[1]);
  }
  void reply(const AgentMessage& message) const {
    const std::string frame = encode_frame(message);
    ASSERT_EQ(::write(guest.get(), frame.data(), frame.size()),
              static_cast<ssize_t>(frame.size()));
  }
  std::optional<AgentSession> session;
  UniqueFd guest;
};

InvokeResult result_with(const std::string& payload) {
  InvokeResult result;
  result.status = InvokeResult::kSuccess;
  result.payload = payload;
  return result;
}

std::future<Result<AgentMessage>> wait_on(AgentReplies& replies, Pair& pair,
                                          milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Result<AgentMessage>>>();
  auto future = promise->get_future();
  replies.wait(*pair.session, AgentReplies::Clock::now() + timeout,
               [promise](Result<AgentMessage> got) { promise->set_value(std::move(got)); });
  return future;
}

TEST(AgentReplies, AReplySentLaterReachesItsWait) {
  AgentReplies replies;
  Pair pair;
  auto got = wait_on(replies, pair, milliseconds(5000));
  EXPECT_EQ(got.wait_for(milliseconds(100)), std::future_status::timeout);
  pair.reply(result_with("\"late\""));
  auto reply = invoke_reply(got.get());
  ASSERT_TRUE(reply.ok()) << reply.error().message();
  EXPECT_EQ(reply->payload, "\"late\"");
}

TEST(AgentReplies, NoReplyByTheDeadlineIsATimeout) {
  AgentReplies replies;
  Pair pair;
  auto got = wait_on(replies, pair, milliseconds(200)).get();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ETIMEDOUT);
}

TEST(AgentReplies, AClosedSessionEndsItsWait) {
  AgentReplies replies;
  Pair pair;
  auto got = wait_on(replies, pair, milliseconds(5000));
  pair.guest.reset();
  auto reply = got.get();
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message().find("closed by the agent"), std::string::npos)
      << reply.error().message();
}

TEST(AgentReplies, AnErrorReplyIsAnErrorWithItsMessage) {
  AgentReplies replies;
  Pair pair;
  auto got = wait_on(replies, pair, milliseconds(5000));
  pair.reply(ErrorReply{"an invocation is already running"});
  auto reply = invoke_reply(got.get());
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message().find("already running"), std::string::npos);
}

TEST(AgentReplies, PendingWaitsAreCancelledWhenItGoes) {
  Pair pair;
  std::future<Result<AgentMessage>> got;
  {
    AgentReplies replies;
    got = wait_on(replies, pair, milliseconds(60'000));
  }
  auto reply = got.get();
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, ECANCELED);
}

TEST(AgentReplies, OneThreadServesManyWaitsInWhateverOrderTheirRepliesCome) {
  AgentReplies replies;
  constexpr int kWaits = 64;
  std::vector<std::unique_ptr<Pair>> pairs;
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::vector<std::promise<std::string>> payloads(kWaits);
  for (int i = 0; i < kWaits; ++i) {
    pairs.push_back(std::make_unique<Pair>());
    replies.wait(*pairs.back()->session, AgentReplies::Clock::now() + milliseconds(10'000),
                 [&, i](Result<AgentMessage> got) {
                   {
                     std::lock_guard lock(mu);
                     threads.insert(std::this_thread::get_id());
                   }
                   auto reply = invoke_reply(std::move(got));
                   payloads[i].set_value(reply.ok() ? reply->payload : reply.error().message());
                 });
  }
  for (int i = kWaits - 1; i >= 0; --i) pairs[i]->reply(result_with(std::to_string(i)));
  for (int i = 0; i < kWaits; ++i) EXPECT_EQ(payloads[i].get_future().get(), std::to_string(i));
  EXPECT_EQ(threads.size(), 1u);
}

}  // namespace
}  // namespace ember::host

// Tests for AgentClient/AgentSession against the real ember-agent in --serve-unix mode.
#include "host/agent_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "host/vm_client.h"

namespace ember::host {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class AgentClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-agent-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    uds_ = dir_ + "/v.sock";
  }
  void TearDown() override {
    agent_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  // Starts the agent serving frames directly on uds_ and returns a session on it.
  AgentSession start_direct() {
    start_agent({EMBER_AGENT_BIN, "--serve-unix", uds_});
    auto s = AgentSession::connect_unix(uds_, seconds(5));
    EXPECT_TRUE(s.ok()) << s.error().message();
    return std::move(s).value();
  }
  void start_agent(const std::vector<std::string>& argv) {
    auto p = VmProcess::spawn_command(argv);
    ASSERT_TRUE(p.ok()) << p.error().message();
    agent_.emplace(std::move(p).value());
  }
  static ExecRequest sh(const std::string& script) {
    ExecRequest r;
    r.argv = {"/bin/sh", "-c", script};
    r.timeout_ms = 10'000;
    return r;
  }

  std::string dir_, uds_;
  std::optional<VmProcess> agent_;
};

TEST_F(AgentClientTest, ReadyExecAndShutdownThroughTheVsockHandshake) {
  auto client = AgentClient::listen(uds_);
  ASSERT_TRUE(client.ok()) << client.error().message();
  struct stat st;
  ASSERT_EQ(::stat((uds_ + "_1025").c_str(), &st), 0);  // listening before the "VM" starts
  start_agent(
      {EMBER_AGENT_BIN, "--serve-unix", uds_, "--ready-unix", uds_ + "_1025", "--vsock-handshake"});

  auto ready = client->wait_ready(seconds(5));
  ASSERT_TRUE(ready.ok()) << ready.error().message();
  EXPECT_EQ(ready->agent_version, "0.1.0");
  EXPECT_GT(ready->agent_start_ns, 0u);
  EXPECT_GE(ready->ready_ns, ready->agent_start_ns);
  EXPECT_GT(ready->uptime_ns, 0u);

  auto r = client->exec(sh("echo hello; exit 4"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_code, 4);
  EXPECT_EQ(r->stdout_data, "hello\n");
  auto again = client->exec(sh("echo again"));  // the same kept session
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->stdout_data, "again\n");

  ASSERT_TRUE(client->shutdown(seconds(5)).ok());
  auto code = agent_->wait_for(seconds(5));
  ASSERT_TRUE(code.ok() && code->has_value()) << agent_->stderr_output();
  EXPECT_EQ(**code, 0);
  EXPECT_NE(agent_->stderr_output().find("ember-agent: ready"), std::string::npos);

  client = Result<AgentClient>(make_error("drop"));  // destroys the client
  EXPECT_NE(::stat((uds_ + "_1025").c_str(), &st), 0);
}

TEST_F(AgentClientTest, WaitReadyTimesOut) {
  auto client = AgentClient::listen(uds_);
  ASSERT_TRUE(client.ok());
  auto ready = client->wait_ready(milliseconds(50));
  ASSERT_FALSE(ready.ok());
  EXPECT_EQ(ready.error().code, ETIMEDOUT);
}

TEST_F(AgentClientTest, ExitStatusAndStreams) {
  AgentSession s = start_direct();
  auto r = s.exec(sh("echo out; echo err >&2; exit 9"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_code, 9);
  EXPECT_EQ(r->term_signal, 0);
  EXPECT_EQ(r->stdout_data, "out\n");
  EXPECT_EQ(r->stderr_data, "err\n");
  EXPECT_GT(r->duration_ns, 0u);
}

TEST_F(AgentClientTest, MegabyteStdinRoundTripsThroughCat) {
  AgentSession s = start_direct();
  ExecRequest req;
  req.argv = {"cat"};
  req.stdin_data.resize(1 << 20);
  for (size_t i = 0; i < req.stdin_data.size(); ++i) req.stdin_data[i] = char((i * 131) >> 3);
  req.output_cap = 1 << 20;
  auto r = s.exec(req);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_FALSE(r->stdout_truncated);
  EXPECT_EQ(r->stdout_data.size(), req.stdin_data.size());
  EXPECT_TRUE(r->stdout_data == req.stdin_data);
}

TEST_F(AgentClientTest, TimeoutKillsTheProcess) {
  AgentSession s = start_direct();
  ExecRequest req = sh("echo before; sleep 30");
  req.timeout_ms = 200;
  auto start = std::chrono::steady_clock::now();
  auto r = s.exec(req);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, 9);
  EXPECT_EQ(r->stdout_data, "before\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));
}

TEST_F(AgentClientTest, OutputIsTruncatedAtTheCap) {
  AgentSession s = start_direct();
  ExecRequest req = sh("head -c 300000 /dev/zero | tr '\\0' x");
  req.output_cap = 4096;
  auto r = s.exec(req);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_data, std::string(4096, 'x'));
  EXPECT_TRUE(r->stdout_truncated);
  EXPECT_FALSE(r->stderr_truncated);
}

TEST_F(AgentClientTest, ExecFailuresComeBackAsErrors) {
  AgentSession s = start_direct();
  ExecRequest req;
  req.argv = {"ember-no-such-program"};
  auto r = s.exec(req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("not found in PATH"), std::string::npos);
  EXPECT_TRUE(s.exec(sh("true")).ok());  // the session goes on
}

TEST_F(AgentClientTest, MalformedFrameGetsAnErrorAndTheSessionGoesOn) {
  AgentSession s = start_direct();
  // A valid header announcing an ExecRequest whose payload is 3 bytes of junk.
  std::string frame("EMBR\x01\x00\x02\x00\x03\x00\x00\x00xyz", 15);
  ASSERT_TRUE(s.send_raw(frame).ok());
  auto reply = s.receive(seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.error().message();
  auto* error = std::get_if<ErrorReply>(&*reply);
  ASSERT_NE(error, nullptr);
  EXPECT_NE(error->message.find("ExecRequest"), std::string::npos) << error->message;

  // An unknown type and a message the agent never expects, then real work.
  ASSERT_TRUE(s.send_raw(std::string("EMBR\x01\x00\x63\x00\x00\x00\x00\x00", 12)).ok());
  ASSERT_TRUE(s.send(ShutdownAck{}).ok());
  auto unknown = s.receive(seconds(5));
  ASSERT_TRUE(unknown.ok() && std::holds_alternative<ErrorReply>(*unknown));
  auto unexpected = s.receive(seconds(5));
  ASSERT_TRUE(unexpected.ok() && std::holds_alternative<ErrorReply>(*unexpected));
  EXPECT_NE(std::get<ErrorReply>(*unexpected).message.find("unexpected ShutdownAck"),
            std::string::npos);
  auto r = s.exec(sh("echo still serving"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->stdout_data, "still serving\n");
}

TEST_F(AgentClientTest, BadMagicClosesOnlyThatSession) {
  AgentSession s = start_direct();
  ASSERT_TRUE(s.send_raw("GET / HTTP/1.1\r\n\r\n").ok());
  auto reply = s.receive(seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.error().message();
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(*reply));
  EXPECT_NE(std::get<ErrorReply>(*reply).message.find("bad magic"), std::string::npos);
  auto closed = s.receive(seconds(5));
  ASSERT_FALSE(closed.ok());
  EXPECT_NE(closed.error().message().find("closed"), std::string::npos);

  auto fresh = AgentSession::connect_unix(uds_, seconds(5));
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->exec(sh("exit 0")).value().exit_code, 0);
}

TEST_F(AgentClientTest, OversizedFrameIsRejectedAtOnce) {
  AgentSession s = start_direct();
  ASSERT_TRUE(s.send_raw(std::string("EMBR\x01\x00\x02\x00\x00\x00\x00\x7f", 12)).ok());
  auto reply = s.receive(seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.error().message();
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(*reply));
  EXPECT_NE(std::get<ErrorReply>(*reply).message.find("exceeds the maximum"), std::string::npos);
}

TEST_F(AgentClientTest, SessionsRunConcurrently) {
  AgentSession slow = start_direct();
  auto fast = AgentSession::connect_unix(uds_, seconds(5));
  ASSERT_TRUE(fast.ok());
  auto slow_result =
      std::async(std::launch::async, [&] { return slow.exec(sh("sleep 1; echo slow")); });
  std::this_thread::sleep_for(milliseconds(100));
  auto start = std::chrono::steady_clock::now();
  auto r = fast->exec(sh("echo fast"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_data, "fast\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(700));
  auto s = slow_result.get();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->stdout_data, "slow\n");
}

// The lines ember-agent --refresh-record wrote:
// "entropy=<hex> unix_time_ns=<n> prefetch_pages=<n>".
std::vector<std::pair<std::string, uint64_t>> read_record(const std::string& path) {
  std::vector<std::pair<std::string, uint64_t>> out;
  std::ifstream in(path);
  std::string entropy, time, prefetch;
  while (in >> entropy >> time >> prefetch) {
    out.emplace_back(entropy.substr(8), std::stoull(time.substr(13)));
  }
  return out;
}

uint64_t realtime_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

TEST_F(AgentClientTest, RefreshSendsFreshEntropyAndTheHostClock) {
  const std::string record = dir_ + "/refresh.log";
  start_agent({EMBER_AGENT_BIN, "--serve-unix", uds_, "--refresh-record", record});
  auto s = AgentSession::connect_unix(uds_, seconds(5));
  ASSERT_TRUE(s.ok()) << s.error().message();
  uint64_t before = realtime_ns();
  ASSERT_TRUE(s->refresh(seconds(5)).ok());
  ASSERT_TRUE(s->refresh(seconds(5)).ok());
  uint64_t after = realtime_ns();
  auto lines = read_record(record);
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& [entropy, time] : lines) {
    EXPECT_EQ(entropy.size(), 2 * kRefreshEntropyBytes);
    EXPECT_GE(time, before);
    EXPECT_LE(time, after);
  }
  EXPECT_NE(lines[0].first, lines[1].first);   // each Refresh draws new bytes
  auto r = s->exec(sh("echo after refresh"));  // the session goes on serving
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->stdout_data, "after refresh\n");
}

TEST_F(AgentClientTest, RefreshFailureNamesTheAction) {
  start_agent({EMBER_AGENT_BIN, "--serve-unix", uds_, "--refresh", "fail-clock"});
  auto s = AgentSession::connect_unix(uds_, seconds(5));
  ASSERT_TRUE(s.ok()) << s.error().message();
  Status status = s->refresh(seconds(5));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message().find("agent refresh: refresh failed: clock not set"),
            std::string::npos)
      << status.error().message();
  EXPECT_EQ(status.error().message().find("entropy"), std::string::npos);
}

TEST_F(AgentClientTest, AttachRestoredRefreshesFirstThenServes) {
  const std::string record = dir_ + "/refresh.log";
  // The "VMM" comes up only after the client started trying, as after a real restore.
  auto client_future = std::async(std::launch::async,
                                  [&] { return AgentClient::attach_restored(uds_, seconds(10)); });
  std::this_thread::sleep_for(milliseconds(200));
  start_agent(
      {EMBER_AGENT_BIN, "--serve-unix", uds_, "--vsock-handshake", "--refresh-record", record});
  auto client = client_future.get();
  ASSERT_TRUE(client.ok()) << client.error().message();
  EXPECT_EQ(read_record(record).size(), 1u);  // before any request

  auto r = client->exec(sh("echo restored"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->stdout_data, "restored\n");
  EXPECT_EQ(read_record(record).size(), 1u);
  EXPECT_FALSE(client->wait_ready(milliseconds(10)).ok());  // no Ready listener
  ASSERT_TRUE(client->shutdown(seconds(5)).ok());
}

TEST_F(AgentClientTest, AttachRestoredFailsWhenTheRefreshDoes) {
  start_agent(
      {EMBER_AGENT_BIN, "--serve-unix", uds_, "--vsock-handshake", "--refresh", "fail-rng"});
  auto client = AgentClient::attach_restored(uds_, seconds(5));
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().message().find("entropy not added"), std::string::npos)
      << client.error().message();
}

TEST_F(AgentClientTest, ConnectGivesUpWhenNothingListens) {
  auto s = AgentSession::connect_vsock(dir_ + "/absent.sock", 1024, milliseconds(50));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ENOENT);
}

TEST(AgentSessionSend, AGuestThatStopsDrainingCannotHoldTheSenderPastItsDeadline) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd guest(pair[1]);  // never read: the socket buffers fill and stay full
  AgentSession session = AgentSession::adopt(UniqueFd(pair[0]));
  Invoke request;
  request.request_id = "r";
  request.payload.assign(6 * 1024 * 1024, 'x');  // far more than the socket buffers hold
  const auto start = std::chrono::steady_clock::now();
  auto r = session.invoke(request, milliseconds(300));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ETIMEDOUT) << r.error().message();
  EXPECT_NE(r.error().message().find("send to agent"), std::string::npos) << r.error().message();
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, seconds(3));
}

TEST(AgentSessionRefresh, AnAgentFromBeforeThePrefetchFieldGetsTheRefreshWithoutIt) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd guest(pair[1]);
  UniqueFd host(pair[0]);
  // The older agent: it refuses a Refresh with trailing bytes, as its decoder did.
  std::vector<size_t> payloads;
  std::thread agent([&] {
    FrameDecoder decoder;
    char buf[65536];
    while (payloads.size() < 2) {
      const ssize_t n = ::read(guest.get(), buf, sizeof buf);
      if (n <= 0) return;
      decoder.feed(std::string_view(buf, static_cast<size_t>(n)));
      for (auto m = decoder.next(); m.ok() && m->has_value(); m = decoder.next()) {
        const auto& refresh = std::get<Refresh>(**m);
        payloads.push_back(refresh.prefetch.size());
        const AgentMessage reply =
            refresh.prefetch.empty()
                ? AgentMessage(RefreshAck{})
                : AgentMessage(ErrorReply{"decode Refresh payload: 36 trailing bytes"});
        const std::string frame = encode_frame(reply);
        ASSERT_EQ(::write(guest.get(), frame.data(), frame.size()),
                  static_cast<ssize_t>(frame.size()));
      }
    }
  });
  Status s = [&] {
    // Closed at the end, which also ends the stand-in agent whatever the session sent.
    AgentSession session = AgentSession::adopt(std::move(host));
    return session.refresh(seconds(5), {{1, 2}, {8, 1}});
  }();
  agent.join();
  EXPECT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(payloads, (std::vector<size_t>{2, 0}));
}

}  // namespace
}  // namespace ember::host

// Control protocol and server: dispatch to a fake target, errors, and the socket framing.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "vmm/control/control_protocol.h"
#include "vmm/control/control_server.h"

namespace ember::vmm {
namespace {

using nlohmann::json;

class FakeTarget : public ControlTarget {
 public:
  Status pause() override {
    ++pauses;
    paused_ = true;
    return {};
  }
  Status resume() override {
    ++resumes;
    paused_ = false;
    return {};
  }
  bool paused() const override { return paused_; }
  Status snapshot(const std::string& dir) override {
    snapshots.push_back(dir);
    if (fail_snapshot) return make_error("write snapshot", "disk full");
    return {};
  }
  ControlStats stats() const override {
    ControlStats s;
    s.paused = paused_;
    s.uptime_ms = 42;
    s.exits = {{"io", 5}, {"mmio", 6}};
    s.mem_mib = 128;
    s.vcpus = 2;
    return s;
  }

  int pauses = 0, resumes = 0;
  bool fail_snapshot = false;
  std::vector<std::string> snapshots;

 private:
  bool paused_ = false;
};

json call(FakeTarget& t, std::string_view line) {
  const std::string reply = handle_control_request(line, t);
  EXPECT_EQ(reply.find('\n'), std::string::npos);
  json j = json::parse(reply, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << reply;
  return j;
}

TEST(ControlProtocol, MalformedJsonIsAnErrorReply) {
  FakeTarget t;
  for (const char* bad : {"{", "not json", "{\"op\":}", "", "\xff\xfe"}) {
    json r = call(t, bad);
    EXPECT_EQ(r["ok"], false) << bad;
    EXPECT_TRUE(r["error"].is_string());
  }
  EXPECT_EQ(t.pauses, 0);
}

TEST(ControlProtocol, NonObjectsAndMissingOpAreRefused) {
  FakeTarget t;
  EXPECT_EQ(call(t, "[1,2]")["ok"], false);
  EXPECT_EQ(call(t, "{\"dir\":\"/x\"}")["ok"], false);
  EXPECT_EQ(call(t, "{\"op\":7}")["ok"], false);
}

TEST(ControlProtocol, UnknownOpNamesTheValidOnes) {
  FakeTarget t;
  json r = call(t, R"({"op":"reboot"})");
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("pause"), std::string::npos);
}

TEST(ControlProtocol, PauseResumeReachTheTarget) {
  FakeTarget t;
  EXPECT_EQ(call(t, R"({"op":"pause"})")["ok"], true);
  EXPECT_TRUE(t.paused());
  EXPECT_EQ(call(t, R"({"op":"pause"})")["ok"], true);  // already paused: no second pause
  EXPECT_EQ(t.pauses, 1);
  EXPECT_EQ(call(t, R"({"op":"resume"})")["ok"], true);
  EXPECT_FALSE(t.paused());
  EXPECT_EQ(t.resumes, 1);
}

TEST(ControlProtocol, SnapshotWhileRunningIsRefused) {
  FakeTarget t;
  json r = call(t, R"({"op":"snapshot","dir":"/tmp/s"})");
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("pause"), std::string::npos);
  EXPECT_TRUE(t.snapshots.empty());
}

TEST(ControlProtocol, SnapshotNeedsADirAndReportsFailures) {
  FakeTarget t;
  ASSERT_TRUE(t.pause().ok());
  EXPECT_EQ(call(t, R"({"op":"snapshot"})")["ok"], false);
  EXPECT_EQ(call(t, R"({"op":"snapshot","dir":""})")["ok"], false);
  EXPECT_EQ(call(t, R"({"op":"snapshot","dir":3})")["ok"], false);
  EXPECT_TRUE(t.snapshots.empty());
  EXPECT_EQ(call(t, R"({"op":"snapshot","dir":"/tmp/s"})")["ok"], true);
  ASSERT_EQ(t.snapshots.size(), 1u);
  EXPECT_EQ(t.snapshots[0], "/tmp/s");
  t.fail_snapshot = true;
  json r = call(t, R"({"op":"snapshot","dir":"/tmp/s"})");
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("disk full"), std::string::npos);
}

TEST(ControlProtocol, StatsHaveTheDocumentedShape) {
  FakeTarget t;
  json r = call(t, R"({"op":"stats"})");
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["state"], "running");
  EXPECT_EQ(r["uptime_ms"], 42);
  EXPECT_EQ(r["exits"]["io"], 5);
  EXPECT_EQ(r["exits"]["mmio"], 6);
  EXPECT_EQ(r["mem_mib"], 128);
  EXPECT_EQ(r["vcpus"], 2);
  ASSERT_TRUE(t.pause().ok());
  EXPECT_EQ(call(t, R"({"op":"stats"})")["state"], "paused");
}

TEST(ControlProtocol, InvalidUtf8InADirDoesNotThrow) {
  FakeTarget t;
  ASSERT_TRUE(t.pause().ok());
  t.fail_snapshot = true;
  // Valid JSON escapes cannot carry invalid UTF-8, but the error text can: it must not throw.
  json r = call(t, "{\"op\":\"snapshot\",\"dir\":\"/tmp/\\u00ff\"}");
  EXPECT_EQ(r["ok"], false);
}

TEST(RestoreRequest, CarriesTheSnapshotAndItsOverrides) {
  auto r = parse_restore_request(
      R"({"op":"restore","dir":"/s","vsock_uds":"/v","disks":["/a:ro","/b"],"start_paused":true})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->dir, "/s");
  EXPECT_EQ(r->vsock_uds, "/v");
  EXPECT_EQ(r->disks, (std::vector<std::string>{"/a:ro", "/b"}));
  EXPECT_TRUE(r->start_paused);

  auto minimal = parse_restore_request(R"({"op":"restore","dir":"/s"})");
  ASSERT_TRUE(minimal.ok()) << minimal.error().message();
  EXPECT_TRUE(minimal->vsock_uds.empty());
  EXPECT_TRUE(minimal->disks.empty());
  EXPECT_FALSE(minimal->start_paused);
}

TEST(RestoreRequest, BadRequestsNameTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "malformed JSON"},
      {"[1]", "JSON object"},
      {R"({"op":"stats"})", "takes only"},
      {R"({"op":"restore"})", "\"dir\""},
      {R"({"op":"restore","dir":""})", "\"dir\""},
      {R"({"op":"restore","dir":"/s","vsock_uds":7})", "\"vsock_uds\""},
      {R"({"op":"restore","dir":"/s","disks":"/a"})", "\"disks\""},
      {R"({"op":"restore","dir":"/s","disks":[""]})", "\"disks\""},
      {R"({"op":"restore","dir":"/s","start_paused":"yes"})", "\"start_paused\""},
  };
  for (const auto& [line, expected] : cases) {
    auto r = parse_restore_request(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_NE(r.error().message().find(expected), std::string::npos)
        << line << " -> " << r.error().message();
  }
}

TEST(RestoreRequest, StatusRepliesAreOkOrTheError) {
  EXPECT_EQ(json::parse(control_status_reply({})), (json{{"ok", true}}));
  json r = json::parse(control_status_reply(make_error("restore", "no such snapshot")));
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("no such snapshot"), std::string::npos);
}

// The server end to end over a real socket, driven by run_once().
TEST(ControlServer, AnswersEachLineAndSurvivesGarbage) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  FakeTarget t;
  const std::string path = "/tmp/ember-ctl-test-" + std::to_string(::getpid()) + ".sock";
  auto server = ControlServer::create(path, *loop, t);
  ASSERT_TRUE(server.ok()) << server.error().message();

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string req = "garbage\n{\"op\":\"pause\"}\n{\"op\":\"stats\"}\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));

  std::string got;
  for (int i = 0; i < 50 && std::count(got.begin(), got.end(), '\n') < 3; ++i) {
    ASSERT_TRUE(loop->run_once(100).ok());
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
  }
  ASSERT_EQ(std::count(got.begin(), got.end(), '\n'), 3) << got;
  std::vector<json> replies;
  size_t start = 0;
  for (size_t nl; (nl = got.find('\n', start)) != std::string::npos; start = nl + 1) {
    replies.push_back(json::parse(got.substr(start, nl - start), nullptr, false));
  }
  EXPECT_EQ(replies[0]["ok"], false);
  EXPECT_EQ(replies[1]["ok"], true);
  EXPECT_EQ(replies[2]["state"], "paused");
  EXPECT_EQ(t.pauses, 1);
  ::close(fd);
  server->reset();
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // the socket file is removed
}

}  // namespace
}  // namespace ember::vmm

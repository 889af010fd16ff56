// The fixture of the runtime end-to-end tests: a real ember-agent --serve-unix with the
// source tree's bootstraps, a task root in a temporary folder, and request builders.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>

#include "common/unique_fd.h"
#include "host/agent_client.h"
#include "host/vm_client.h"

namespace ember::host {

inline constexpr Millis kRpc = std::chrono::seconds(30);

inline uint64_t unix_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Sends raw bytes to 127.0.0.1:port and returns everything until the server closes.
inline std::string http_exchange(uint16_t port, const std::string& request) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return "connect failed";
  }
  timeval tv = {5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

class AgentRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-runtime-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    uds_ = dir_ + "/agent.sock";
    task_root_ = dir_ + "/task";
    ASSERT_EQ(::mkdir(task_root_.c_str(), 0755), 0);
  }
  void TearDown() override {
    agent_.reset();  // the runtime exits when its Runtime API connection breaks
    std::system(("rm -rf " + dir_).c_str());
  }

  // Writes task_root/name, creating one level of folder when name has one.
  void write_file(const std::string& name, const std::string& text, mode_t mode = 0644) {
    if (size_t slash = name.find('/'); slash != std::string::npos) {
      ::mkdir((task_root_ + "/" + name.substr(0, slash)).c_str(), 0755);
    }
    std::string path = task_root_ + "/" + name;
    std::ofstream(path) << text;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }

  AgentSession start_agent() {
    auto p = VmProcess::spawn_command({EMBER_AGENT_BIN, "--serve-unix", uds_, "--runtime-api-port",
                                       "0", "--runtimes-dir", EMBER_RUNTIMES_DIR});
    EXPECT_TRUE(p.ok()) << p.error().message();
    agent_.emplace(std::move(p).value());
    return connect();
  }
  AgentSession connect() {
    auto s = AgentSession::connect_unix(uds_, std::chrono::seconds(5));
    EXPECT_TRUE(s.ok()) << s.error().message();
    return std::move(s).value();
  }

  InitRuntime init_request(const std::string& runtime, const std::string& handler) {
    InitRuntime r;
    r.runtime = runtime;
    r.handler = handler;
    r.env = {"AWS_LAMBDA_FUNCTION_NAME=fn", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
             "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "AWS_REGION=us-east-1",
             "AWS_LAMBDA_LOG_STREAM_NAME=2024/01/01/[$LATEST]abc"};
    r.task_root = task_root_;
    r.init_timeout_ms = 20'000;
    return r;
  }
  // Starts the agent and inits the runtime, which must succeed; boot_refresh: after the
  // Refresh the host sends a booted VM before its init.
  AgentSession start_runtime(const std::string& runtime, const std::string& handler,
                             bool boot_refresh = false) {
    AgentSession s = start_agent();
    if (boot_refresh) {
      EXPECT_TRUE(s.refresh(kRpc).ok());
    }
    auto init = s.init_runtime(init_request(runtime, handler), kRpc);
    EXPECT_TRUE(init.ok()) << init.error().message();
    if (init.ok()) {
      EXPECT_TRUE(init->ok) << init->error_type << " " << init->error_body << "\n" << init->logs;
    }
    return s;
  }
  Invoke invoke_request(const std::string& payload) {
    Invoke r;
    r.request_id = "req-" + std::to_string(++invocations_);
    r.budget_ms = 30'000;
    r.invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:fn";
    r.payload = payload;
    return r;
  }
  InvokeResult invoke(AgentSession& s, const std::string& payload) {
    auto r = s.invoke(invoke_request(payload), kRpc);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? std::move(r).value() : InvokeResult{};
  }

  std::string dir_, uds_, task_root_;
  std::optional<VmProcess> agent_;
  int invocations_ = 0;
};

}  // namespace ember::host

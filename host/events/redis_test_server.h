// A throwaway redis-server for tests: a free loopback port plus a Unix socket in a temp dir,
// no persistence, never the system service; and the GoogleTest fixture that owns one.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "common/unique_fd.h"
#include "host/events/redis_client.h"

// Declares `RedisConnection& var` connected to `server` with io timeout `io`, or fails the test.
#define ASSERT_REDIS_CONNECT(var, server, io)                                            \
  auto var##_result = RedisConnection::connect((server), std::chrono::seconds(2), (io)); \
  ASSERT_TRUE(var##_result.ok()) << var##_result.error().message();                      \
  RedisConnection& var = var##_result.value()

namespace ember::host {

// A loopback port nobody listens on right now (bound, read, released).
inline int free_loopback_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  socklen_t len = sizeof addr;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  return ntohs(addr.sin_port);
}

// redis-server on PATH (EMBER_REDIS_SERVER overrides); empty when not installed.
inline std::string redis_server_binary() {
  if (const char* env = ::getenv("EMBER_REDIS_SERVER"); env != nullptr && *env != '\0') {
    return ::access(env, X_OK) == 0 ? env : "";
  }
  const char* path = ::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = dir + "/redis-server";
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

class RedisServerTest : public ::testing::Test {
 protected:
  // Extra redis-server arguments (e.g. --requirepass) and the password to reach it with.
  virtual std::vector<std::string> extra_args() const { return {}; }
  virtual std::string password() const { return ""; }

  void SetUp() override {
    binary_ = redis_server_binary();
    if (binary_.empty()) {
      GTEST_SKIP() << "redis-server is not installed (scripts/setup installs Debian's "
                      "redis-server); skipping the tests against a real Redis";
    }
    ::signal(SIGPIPE, SIG_IGN);  // as emberd does: a write to a closed socket is an error
    char tmpl[] = "/tmp/ember-redis-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // A free port can be taken between the check and redis-server's bind: try again.
    for (int attempt = 0; attempt < 3 && pid_ <= 0; ++attempt) start();
    ASSERT_GT(pid_, 0) << "redis-server did not start; its log:\n" << log();
  }

  void TearDown() override {
    stop_server();
    if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
  }

  RedisServer tcp_server(int db = 0) const {
    RedisServer server;
    server.name = "test";
    server.host = "127.0.0.1";
    server.port = port_;
    server.password = password();
    server.db = db;
    return server;
  }
  RedisServer unix_server(int db = 0) const {
    RedisServer server = tcp_server(db);
    server.host.clear();
    server.unix_path = socket_path();
    return server;
  }
  std::string socket_path() const { return dir_ + "/redis.sock"; }

  std::string log() const {
    std::ifstream in(dir_ + "/redis.log");
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

  void stop_server() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 500 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (i == 499) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
    pid_ = -1;
  }

  std::string binary_;
  std::string dir_;
  int port_ = -1;
  pid_t pid_ = -1;

 private:
  void start() {
    port_ = free_loopback_port();
    std::vector<std::string> args = {binary_,        "--port",    std::to_string(port_),
                                     "--bind",       "127.0.0.1", "--unixsocket",
                                     socket_path(),  "--save",    "",
                                     "--appendonly", "no",        "--dir",
                                     dir_,           "--logfile", dir_ + "/redis.log",
                                     "--daemonize",  "no"};
    for (const std::string& arg : extra_args()) args.push_back(arg);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ASSERT_GT(pid, 0);
    pid_ = pid;
    // Ready once it answers anything on its socket (NOAUTH counts: it is up).
    for (int i = 0; i < 250; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      struct stat st = {};
      if (::stat(socket_path().c_str(), &st) == 0) {
        auto probe = RedisConnection::connect(unix_server(), std::chrono::milliseconds(200),
                                              std::chrono::milliseconds(200));
        if (probe.ok() || probe.error().code == EPROTO) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop_server();
  }
};

}  // namespace ember::host

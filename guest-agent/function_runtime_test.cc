// Tests for FunctionRuntime's pure parts and refusals; runs of the real bootstraps are in
// host/agent_client_runtime_test.cc.
#include "guest-agent/function_runtime.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace ember::agent {
namespace {

TEST(FunctionRuntime, CommandsPerRuntime) {
  auto python = runtime_command("python3.11", "/rt", "/var/task");
  ASSERT_TRUE(python.ok());
  EXPECT_EQ(*python, (std::vector<std::string>{"/usr/bin/python3", "/rt/python/bootstrap.py"}));
  auto node = runtime_command("nodejs18.x", "/rt", "/var/task");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(*node, (std::vector<std::string>{"/usr/bin/node", "/rt/nodejs/bootstrap.js"}));
  for (const char* provided : {"provided", "provided.al2"}) {
    auto custom = runtime_command(provided, "/rt", "/var/task");
    ASSERT_TRUE(custom.ok());
    EXPECT_EQ(*custom, std::vector<std::string>{"/var/task/bootstrap"});
  }
  auto unknown = runtime_command("java21", "/rt", "/var/task");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("unknown runtime 'java21'"), std::string::npos);
}

TEST(FunctionRuntime, EnvironmentIsTheRequestsWithTheAgentsVariablesOnTop) {
  InitRuntime request;
  request.handler = "app.handler";
  request.task_root = "/var/task";
  request.env = {"A=1", "_HANDLER=stale", "AWS_LAMBDA_RUNTIME_API=elsewhere:1", "B=x=y"};
  auto env = runtime_environment(request, 9001);
  EXPECT_EQ(env, (std::vector<std::string>{"A=1", "B=x=y", std::string("PATH=") + kDefaultPath,
                                           "_HANDLER=app.handler", "LAMBDA_TASK_ROOT=/var/task",
                                           "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001"}));
  request.env = {"PATH=/opt/bin"};
  auto with_path = runtime_environment(request, 1);
  EXPECT_EQ(with_path.front(), "PATH=/opt/bin");
  EXPECT_EQ(with_path.size(), 4u);
}

TEST(FunctionRuntime, InvokeBeforeInitAndBadRequestsAreErrors) {
  ChildReaper reaper;
  FunctionRuntime runtime(reaper, FunctionRuntimeConfig{.api_port = 0, .mount_code = false});
  Invoke invoke;
  invoke.request_id = "id";
  auto early = runtime.invoke(invoke);
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().message().find("has not finished its init"), std::string::npos);
  invoke.request_id = "a/b";
  EXPECT_FALSE(runtime.invoke(invoke).ok());
  InitRuntime init;
  init.runtime = "python3.11";
  init.task_root = "relative";
  auto bad_root = runtime.init(init);
  ASSERT_FALSE(bad_root.ok());
  EXPECT_NE(bad_root.error().message().find("absolute"), std::string::npos);
}

// An agent that may not change ids (root first becomes nobody) starts a provided runtime
// that should drop to another user: init fails the way a failed exec does, and says why.
void init_with_a_drop_that_fails() {
  if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
                           ::setresuid(65534, 65534, 65534) != 0)) {
    ::_exit(3);
  }
  std::string task_root = ::testing::TempDir() + "/ember-drop-" + std::to_string(::getpid());
  if (::mkdir(task_root.c_str(), 0755) != 0) ::_exit(4);
  std::ofstream(task_root + "/bootstrap") << "#!/bin/sh\nexit 0\n";
  ::chmod((task_root + "/bootstrap").c_str(), 0755);
  ChildReaper reaper;
  FunctionRuntime runtime(reaper, FunctionRuntimeConfig{.api_port = 0,
                                                        .mount_code = false,
                                                        .runtime_user = Credentials{4242, 4343}});
  InitRuntime init;
  init.runtime = "provided";
  init.task_root = task_root;
  init.init_timeout_ms = 10'000;
  auto result = runtime.init(init);
  ::unlink((task_root + "/bootstrap").c_str());
  ::rmdir(task_root.c_str());
  if (!result.ok()) ::_exit(5);
  std::fprintf(stderr, "%s %s\n", result->error_type.c_str(), result->error_body.c_str());
  ::_exit(!result->ok && result->error_type == "Runtime.InvalidEntrypoint" ? 0 : 6);
}

TEST(FunctionRuntimeDeathTest, AFailedPrivilegeDropIsAnInitError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(init_with_a_drop_that_fails(), ::testing::ExitedWithCode(0),
              "Runtime.InvalidEntrypoint .*exec: drop privileges: setgroups.*uid 4242 gid 4343");
}

}  // namespace
}  // namespace ember::agent

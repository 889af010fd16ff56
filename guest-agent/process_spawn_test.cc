// Tests for spawn_process's privilege drop: the child's ids, groups, capabilities and
// no_new_privs, cwd checked as the new user, and a failed drop reported with its call.
#include "guest-agent/process_spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace ember::agent {
namespace {

// A user no test machine gives a meaning to.
constexpr Credentials kTestUser{4242, 4343};

// Runs argv with stdout and stderr into one pipe; returns what it wrote, or the spawn error.
Result<std::string> run(ChildReaper& reaper, SpawnSpec spec) {
  EMBER_TRY(Pipe out, make_pipe());
  UniqueFd null_in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  spec.stdin_fd = null_in.get();
  spec.stdout_fd = out.write.get();
  spec.stderr_fd = out.write.get();
  EMBER_TRY(ChildReaper::Child child, spawn_process(reaper, spec));
  out.write.reset();
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out.read.get(), buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  pollfd exited = {child.exit_fd.get(), POLLIN, 0};
  if (::poll(&exited, 1, 10'000) != 1) return make_error("wait", "the child did not exit");
  (void)reaper.take_status(child.pid);
  return text;
}

// The value of a "Name:\t..." line of /proc/PID/status, trailing blanks removed.
std::string status_field(const std::string& status, const std::string& name) {
  size_t at = status.find("\n" + name + ":\t");
  if (at == std::string::npos) return "<missing>";
  at += name.size() + 3;
  std::string value = status.substr(at, status.find('\n', at) - at);
  while (!value.empty() && value.back() == ' ') value.pop_back();
  return value;
}

SpawnSpec status_of_child(std::optional<Credentials> drop_to) {
  SpawnSpec spec;
  spec.program = "/bin/cat";
  spec.argv = {"cat", "/proc/self/status"};
  spec.env = {std::string("PATH=") + kDefaultPath};
  spec.drop_to = drop_to;
  return spec;
}

TEST(ProcessSpawn, ChildRunsAsTheGivenUserWithoutGroupsCapabilitiesOrNewPrivileges) {
  if (::geteuid() != 0) GTEST_SKIP() << "dropping to another user needs root";
  ChildReaper reaper;
  auto status = run(reaper, status_of_child(kTestUser));
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(status_field(*status, "Uid"), "4242\t4242\t4242\t4242");
  EXPECT_EQ(status_field(*status, "Gid"), "4343\t4343\t4343\t4343");
  EXPECT_EQ(status_field(*status, "Groups"), "");
  EXPECT_EQ(status_field(*status, "CapEff"), "0000000000000000");
  EXPECT_EQ(status_field(*status, "CapPrm"), "0000000000000000");
  EXPECT_EQ(status_field(*status, "NoNewPrivs"), "1");

  // Without drop_to the child keeps the agent's identity.
  auto root = run(reaper, status_of_child(std::nullopt));
  ASSERT_TRUE(root.ok()) << root.error().message();
  EXPECT_EQ(status_field(*root, "Uid"), "0\t0\t0\t0");
  EXPECT_EQ(status_field(*root, "NoNewPrivs"), "0");
}

TEST(ProcessSpawn, CwdIsEnteredAsTheDroppedUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "dropping to another user needs root";
  std::string dir = ::testing::TempDir() + "/ember-spawn-private-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ChildReaper reaper;
  SpawnSpec spec = status_of_child(kTestUser);
  spec.cwd = dir;
  auto denied = run(reaper, spec);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, EACCES);
  EXPECT_NE(denied.error().message().find("exec: chdir: '" + dir + "'"), std::string::npos)
      << denied.error().message();
  spec.drop_to.reset();  // root may enter it
  EXPECT_TRUE(run(reaper, spec).ok());
  ::rmdir(dir.c_str());
}

// As a user that may not change ids (root first drops itself to nobody), the drop fails at
// its first call and the error says which call, for whom and why.
void spawn_as_unprivileged_agent() {
  if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
                           ::setresuid(65534, 65534, 65534) != 0)) {
    std::fprintf(stderr, "could not become nobody\n");
    ::_exit(3);
  }
  ChildReaper reaper;
  auto result = run(reaper, status_of_child(kTestUser));
  if (result.ok()) {
    std::fprintf(stderr, "spawned without dropping\n");
    ::_exit(1);
  }
  std::fprintf(stderr, "%s\n", result.error().message().c_str());
  ::_exit(result.error().op == kDropPrivilegesOp && result.error().code == EPERM ? 0 : 2);
}

TEST(ProcessSpawnDeathTest, AFailedDropIsReportedWithTheCallAndTheUser) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(spawn_as_unprivileged_agent(), ::testing::ExitedWithCode(0),
              "exec: drop privileges: setgroups\\(0\\).* for uid 4242 gid 4343 before running "
              "'/bin/cat'.*Operation not permitted");
}

}  // namespace
}  // namespace ember::agent

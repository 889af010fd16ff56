// run_ip: posix_spawn of `ip` with stdin and output in memfds (no pipes, no SIGPIPE).
#include "host/net/ip_command.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "common/unique_fd.h"

extern char** environ;

namespace ember::host::net {
namespace {

Result<UniqueFd> memfd(const char* name) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) return errno_error("memfd_create", name);
  return fd;
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_error("write", "ip's input");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ::lseek(fd, 0, SEEK_SET);
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

Result<std::string> find_ip_binary() {
  std::string dirs = ::getenv("PATH") ? ::getenv("PATH") : "";
  dirs += ":/usr/sbin:/sbin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    if (end > start) {
      std::string path = dirs.substr(start, end - start) + "/ip";
      if (::access(path.c_str(), X_OK) == 0) return path;
    }
    start = end + 1;
  }
  return make_error("find ip", "iproute2's `ip` is not installed (apt-get install iproute2)");
}

std::string ip_batch(std::initializer_list<std::string> commands) {
  std::string out;
  for (const auto& command : commands) out += command + "\n";
  return out;
}

Status run_ip(const std::string& ip, const std::vector<std::string>& args, std::string_view input) {
  EMBER_TRY(UniqueFd in, memfd("ip-input"));
  EMBER_TRY(UniqueFd out, memfd("ip-output"));
  EMBER_CHECK(write_all(in.get(), input));
  ::lseek(in.get(), 0, SEEK_SET);

  std::vector<char*> argv{const_cast<char*>(ip.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_adddup2(&actions, in.get(), 0);
  ::posix_spawn_file_actions_adddup2(&actions, out.get(), 1);
  ::posix_spawn_file_actions_adddup2(&actions, out.get(), 2);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &defaults);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, ip.c_str(), &actions, &attr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  std::string command = "ip";
  for (const auto& a : args) command += " " + a;
  if (rc != 0) {
    errno = rc;
    return errno_error("spawn", command);
  }
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r != pid) return errno_error("waitpid", command);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  std::string printed = read_all(out.get());
  if (printed.empty()) printed = "failed with status " + std::to_string(status);
  if (!input.empty()) {  // ip names a failed batch command by its line number only
    std::string lines(input);
    while (!lines.empty() && lines.back() == '\n') lines.pop_back();
    for (char& c : lines) c = c == '\n' ? ';' : c;
    printed += " (input: " + lines + ")";
  }
  return make_error(command, printed);
}

}  // namespace ember::host::net

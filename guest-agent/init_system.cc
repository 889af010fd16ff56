// PID 1 system setup: mounts, switch root, runtime filesystems, loopback and hostname.
#include "guest-agent/init_system.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/unique_fd.h"

namespace ember::agent {
namespace {

Status do_mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                const char* data = nullptr) {
  if (::mount(source, target, fstype, flags, data) != 0) {
    return errno_error("mount",
                       std::string(fstype ? fstype : "move") + " " + source + " on " + target);
  }
  return {};
}

Status ensure_dir(const char* path, mode_t mode) {
  if (::mkdir(path, mode) != 0 && errno != EEXIST) return errno_error("mkdir", path);
  return {};
}

}  // namespace

Status mount_dev_and_console() {
  EMBER_CHECK(ensure_dir("/dev", 0755));
  if (::mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") != 0 && errno != EBUSY) {
    return errno_error("mount", "devtmpfs on /dev");
  }
  int fd = ::open("/dev/console", O_RDWR | O_NOCTTY);
  if (fd < 0) return errno_error("open", "/dev/console");
  for (int target = 0; target < 3; ++target) {
    if (fd != target) ::dup2(fd, target);
  }
  if (fd > 2) ::close(fd);
  return {};
}

Status mount_proc_and_sys() {
  EMBER_CHECK(ensure_dir("/proc", 0555));
  EMBER_CHECK(ensure_dir("/sys", 0555));
  EMBER_CHECK(do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
  EMBER_CHECK(do_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC));
  return {};
}

Status switch_root(const BootConfig& config) {
  // virtio-blk usually probes before init runs, but give a late device node a moment.
  struct stat st;
  for (int i = 0; i < 500 && ::stat(config.root_device.c_str(), &st) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EMBER_CHECK(ensure_dir("/newroot", 0755));
  EMBER_CHECK(
      do_mount(config.root_device.c_str(), "/newroot", config.root_fstype.c_str(), MS_RDONLY));
  for (const char* dir : {"/dev", "/proc", "/sys"}) {
    std::string target = std::string("/newroot") + dir;
    EMBER_CHECK(do_mount(dir, target.c_str(), nullptr, MS_MOVE));
  }
  if (::chdir("/newroot") != 0) return errno_error("chdir", "/newroot");
  EMBER_CHECK(do_mount(".", "/", nullptr, MS_MOVE));
  if (::chroot(".") != 0) return errno_error("chroot", "/newroot");
  if (::chdir("/") != 0) return errno_error("chdir", "/");
  return {};
}

std::string tmp_mount_options(const BootConfig& config, const Credentials& tmp_owner) {
  return "mode=0700,uid=" + std::to_string(tmp_owner.uid) + ",gid=" +
         std::to_string(tmp_owner.gid) + ",size=" + std::to_string(config.tmp_mib) + "m";
}

Status mount_runtime_filesystems(const BootConfig& config, const Credentials& tmp_owner) {
  std::string tmp_opts = tmp_mount_options(config, tmp_owner);
  EMBER_CHECK(do_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_opts.c_str()));
  struct stat tmp;
  if (::stat("/tmp", &tmp) != 0) return errno_error("stat", "/tmp");
  if (tmp.st_uid != tmp_owner.uid || tmp.st_gid != tmp_owner.gid) {
    return make_error("mount /tmp", "owned by " + std::to_string(tmp.st_uid) + ":" +
                                        std::to_string(tmp.st_gid) + " after mounting with " +
                                        tmp_opts + "; the function could not write it");
  }
  EMBER_CHECK(do_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m"));
  // Best-effort: runtimes use them (multiprocessing needs /dev/shm) but can live without.
  Status optional[] = {
      ensure_dir("/dev/shm", 01777),
      do_mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"),
      ensure_dir("/dev/pts", 0755),
      do_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666"),
      do_mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC),
  };
  for (const Status& s : optional) {
    if (!s.ok()) log_line("warning: " + s.error().message());
  }
  return {};
}

Status restrict_kernel_log() {
  UniqueFd fd(::open("/proc/sys/kernel/dmesg_restrict", O_WRONLY | O_CLOEXEC));
  if (!fd) return errno_error("open", "/proc/sys/kernel/dmesg_restrict");
  if (::write(fd.get(), "1\n", 2) != 2) return errno_error("write", "kernel.dmesg_restrict");
  return {};
}

Status bring_up_loopback() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return errno_error("socket(AF_INET)");
  ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return errno_error("SIOCGIFFLAGS", "lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return errno_error("SIOCSIFFLAGS", "lo up");

  ifreq addr = {};
  std::strncpy(addr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFADDR, &addr) == 0) return {};
  if (errno != EADDRNOTAVAIL) return errno_error("SIOCGIFADDR", "lo");
  auto* sin = reinterpret_cast<sockaddr_in*>(&addr.ifr_addr);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::ioctl(s.get(), SIOCSIFADDR, &addr) != 0) return errno_error("SIOCSIFADDR", "127.0.0.1");
  sin = reinterpret_cast<sockaddr_in*>(&addr.ifr_netmask);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(0xff000000);
  if (::ioctl(s.get(), SIOCSIFNETMASK, &addr) != 0) return errno_error("SIOCSIFNETMASK", "/8");
  return {};
}

Status set_hostname(const std::string& name) {
  if (::sethostname(name.data(), name.size()) != 0) return errno_error("sethostname", name);
  return {};
}

Result<std::string> read_text_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("open", path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("read", path);
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

uint64_t boottime_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

uint64_t kernel_uptime_ns() {
  auto text = read_text_file("/proc/uptime");
  if (!text.ok()) return 0;
  // "12345.67 890.12": seconds with two decimals.
  uint64_t seconds = 0, hundredths = 0;
  size_t i = 0;
  const std::string& t = *text;
  for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) seconds = seconds * 10 + (t[i] - '0');
  if (i < t.size() && t[i] == '.') {
    int digits = 0;
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9' && digits < 2; ++i, ++digits) {
      hundredths = hundredths * 10 + (t[i] - '0');
    }
    if (digits == 1) hundredths *= 10;
  }
  return seconds * 1'000'000'000 + hundredths * 10'000'000;
}

void log_line(std::string_view text) {
  std::string line = "ember-agent: ";
  line.append(text);
  line += '\n';
  [[maybe_unused]] ssize_t n = ::write(2, line.data(), line.size());
}

}  // namespace ember::agent

// What the agent does as PID 1 before serving: mounts, switch root, loopback, hostname.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "guest-agent/kernel_cmdline.h"
#include "guest-agent/sandbox_user.h"

namespace ember::agent {

// Mounts devtmpfs on /dev and points fds 0, 1 and 2 at /dev/console (the initramfs has no
// device nodes, so PID 1 starts without them). Must come first, before any other open().
Status mount_dev_and_console();

// Mounts proc on /proc and sysfs on /sys.
Status mount_proc_and_sys();

// Mounts config.root_device read-only at /newroot (waiting up to 5 s for the device node),
// moves /dev, /proc and /sys under it and makes it the root: chdir, MS_MOVE onto /, chroot.
Status switch_root(const BootConfig& config);

// The tmpfs options of the function's /tmp: config.tmp_mib MiB, owned by tmp_owner, mode 0700
// (only the runtime's user and root may use it).
std::string tmp_mount_options(const BootConfig& config, const Credentials& tmp_owner);

// After switch_root: /tmp (tmp_mount_options; its owner checked after the mount) and /run
// (root's, mode 0755). Fails only for /tmp; /dev/shm, /dev/pts and cgroup2 on
// /sys/fs/cgroup are best-effort.
Status mount_runtime_filesystems(const BootConfig& config, const Credentials& tmp_owner);

// kernel.dmesg_restrict = 1: the kernel log (boot command line, devices, the agent's OOM
// kills) is for root only, not for the function's user.
Status restrict_kernel_log();

// Brings `lo` up. Linux gives lo 127.0.0.1/8 itself when it goes up (net/ipv4/devinet.c,
// NETDEV_UP on a loopback device); the address is set explicitly only if it is missing.
Status bring_up_loopback();

Status set_hostname(const std::string& name);

// The whole file as a string (for /proc files, whose size stat() reports as 0).
Result<std::string> read_text_file(const std::string& path);

// Time since boot including suspend, in ns.
uint64_t boottime_ns();
// Kernel uptime from /proc/uptime, in ns (0 when unreadable).
uint64_t kernel_uptime_ns();

// One line "ember-agent: <text>\n" on stderr (the console when PID 1), in a single write.
void log_line(std::string_view text);

}  // namespace ember::agent

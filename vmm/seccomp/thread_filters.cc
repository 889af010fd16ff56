// The system calls each ember-vmm thread role may make (see thread_filters.h for the order).
//
// Found by reading the code each role runs and confirmed by running every VM test with a
// build whose default is --seccomp log (cmake -DEMBER_VMM_SECCOMP_DEFAULT=log) and reading
// the kernel's audit records. A system call added to the VMM must be added here.
#include "vmm/seccomp/thread_filters.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <initializer_list>

#include "common/unique_fd.h"
#include "vmm/kvm/kvm_abi.h"

namespace ember::vmm::seccomp {
namespace {

// What glibc's pthread_create passes to clone (once clone3 has answered ENOSYS): a thread
// sharing everything, with TLS and tid bookkeeping, and no exit signal. fork() differs.
constexpr uint64_t kThreadCloneFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                                       CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
                                       CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;

// The vCPU loop: KVM_RUN, and the registers described in a failed exit's message.
constexpr unsigned long kVcpuRunRequests[] = {KVM_RUN, KVM_GET_REGS};

// {"op":"snapshot"} on the event loop: every piece of state kvm_state.cc captures.
constexpr unsigned long kSnapshotRequests[] = {
    KVM_CHECK_EXTENSION, kvm_abi::kGetMsrIndexList, KVM_GET_MP_STATE, KVM_GET_REGS,
    KVM_GET_SREGS,       kvm_abi::kGetXsave,        kvm_abi::kGetXsave2, KVM_GET_XCRS,
    KVM_GET_DEBUGREGS,   KVM_GET_LAPIC,             kvm_abi::kGetCpuid2, KVM_GET_TSC_KHZ,
    KVM_GET_VCPU_EVENTS, kvm_abi::kGetMsrs,         KVM_GET_IRQCHIP,     KVM_GET_PIT2,
    KVM_GET_CLOCK,
};

// Building or restoring a VM (vmm/kvm/): the system, VM and vCPU ioctls that set it up.
constexpr unsigned long kSetupRequests[] = {
    KVM_GET_API_VERSION,  KVM_GET_VCPU_MMAP_SIZE, kvm_abi::kGetSupportedCpuid,
    KVM_CREATE_VM,        KVM_SET_USER_MEMORY_REGION, KVM_SET_TSS_ADDR,
    KVM_SET_IDENTITY_MAP_ADDR, KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2,
    KVM_IOEVENTFD,        KVM_IRQFD,              KVM_SET_IRQCHIP,
    KVM_SET_PIT2,         KVM_SET_CLOCK,          KVM_CREATE_VCPU,
    KVM_SET_REGS,         KVM_SET_SREGS,          KVM_SET_FPU,
    KVM_SET_LAPIC,        KVM_SET_MP_STATE,       KVM_SET_XCRS,
    KVM_SET_DEBUGREGS,    KVM_SET_VCPU_EVENTS,    kvm_abi::kSetMsrs,
    kvm_abi::kSetXsave,   kvm_abi::kSetCpuid2,    KVM_SET_TSC_KHZ,
    // A restore's working set, mapped into KVM before the vCPUs run (vmm_restore.cc).
    kvm_abi::kPreFaultMemory,
    // KVM's statistics files, opened before the vCPUs run (kvm_stats.h).
    KVM_GET_STATS_FD,
    // The tap (vmm/virtio/net.cc): checked and given its vnet header size when attached.
    TUNGETIFF,            TUNSETVNETHDRSZ,
};

Rule allow(long nr) { return {nr, {}, 0}; }
Rule allow_if(long nr, std::vector<ArgCheck> checks) { return {nr, std::move(checks), 0}; }
// ioctl only with this request number (the kernel reads it as 32 bits; all 64 must match).
Rule ioctl_request(unsigned long request) {
  return allow_if(SYS_ioctl, {arg_eq(1, request)});
}

template <size_t N>
void add_ioctls(std::vector<Rule>& rules, const unsigned long (&requests)[N]) {
  for (unsigned long r : requests) rules.push_back(ioctl_request(r));
}

void add(std::vector<Rule>& rules, std::initializer_list<long> calls) {
  for (long nr : calls) rules.push_back(allow(nr));
}

// Every thread: memory (never executable), locks, signals, time, logging, exit, and
// raise()/abort() reaching only this process.
std::vector<Rule> base_rules(pid_t pid) {
  std::vector<Rule> r;
  add(r, {SYS_write, SYS_futex, SYS_munmap, SYS_mremap, SYS_madvise, SYS_brk, SYS_rt_sigreturn,
          SYS_rt_sigprocmask, SYS_getpid, SYS_gettid, SYS_exit, SYS_exit_group, SYS_clock_gettime,
          SYS_sched_yield, SYS_restart_syscall});
  r.push_back(allow_if(SYS_mmap, {arg_masked(2, PROT_EXEC, 0)}));
  r.push_back(allow_if(SYS_mprotect, {arg_masked(2, PROT_EXEC, 0)}));
  r.push_back(allow_if(SYS_tgkill, {arg_eq(0, static_cast<uint64_t>(pid))}));
  // glibc tries clone3 first and falls back to clone on ENOSYS; clone's flags can be checked.
  r.push_back({SYS_clone3, {}, ENOSYS});
  return r;
}

// Sockets are Unix sockets only: the vsock device's host side and the control socket.
Rule unix_socket() { return allow_if(SYS_socket, {arg_eq(0, AF_UNIX)}); }

void add_unique(std::vector<Rule>& into, const std::vector<Rule>& rules) {
  auto same = [](const Rule& a, const Rule& b) {
    if (a.syscall != b.syscall || a.error != b.error || a.checks.size() != b.checks.size()) {
      return false;
    }
    for (size_t i = 0; i < a.checks.size(); ++i) {
      const ArgCheck &x = a.checks[i], &y = b.checks[i];
      if (x.arg != y.arg || x.mask != y.mask || x.value != y.value) return false;
    }
    return true;
  };
  for (const Rule& rule : rules) {
    if (std::none_of(into.begin(), into.end(), [&](const Rule& r) { return same(r, rule); })) {
      into.push_back(rule);
    }
  }
}

Result<Filter> build(Mode mode, const std::vector<Rule>& rules) {
  EMBER_TRY(Filter filter, Filter::create(mode));
  EMBER_CHECK(filter.add_all(rules));
  return filter;
}

}  // namespace

std::vector<Rule> vcpu_rules(pid_t pid) {
  std::vector<Rule> r = base_rules(pid);
  add_ioctls(r, kVcpuRunRequests);
  // A guest writing a virtio status or config register runs the device's activate() or
  // reset() on this thread, under the transport's lock: virtio-net sets the tap's offloads;
  // virtio-vsock sends pending packets, connects to its host socket, closes connections
  // and updates the event loop's interest in them.
  r.push_back(ioctl_request(TUNSETOFFLOAD));
  add(r, {SYS_close, SYS_epoll_ctl, SYS_connect, SYS_sendto, SYS_recvfrom, SYS_shutdown});
  r.push_back(unix_socket());
  return r;
}

std::vector<Rule> event_loop_rules(pid_t pid) {
  std::vector<Rule> r = base_rules(pid);
  // The loop, eventfds, and the devices' queues: disks, the tap (or a frame socket), vsock
  // connections and their listener, the control socket and its clients.
  add(r, {SYS_epoll_wait, SYS_epoll_ctl, SYS_read, SYS_readv, SYS_writev, SYS_preadv,
          SYS_pwritev, SYS_fdatasync, SYS_accept4, SYS_connect, SYS_recvfrom, SYS_sendto,
          SYS_recvmsg, SYS_sendmsg, SYS_shutdown, SYS_close});
  r.push_back(unix_socket());
  // {"op":"snapshot"}: KVM state, then the snapshot directory (state_file.cc).
  add_ioctls(r, kSnapshotRequests);
  add(r, {SYS_openat, SYS_newfstatat, SYS_mkdir, SYS_pwrite64, SYS_ftruncate, SYS_fsync,
          SYS_rename, SYS_unlink});
  // {"op":"stats"}: KVM's statistics files and the process's page faults.
  add(r, {SYS_pread64, SYS_getrusage});
  // Pausing kicks the vCPU threads (tgkill, in base_rules); the end of the VM unlinks the
  // socket files.
  return r;
}

std::vector<Rule> startup_rules(pid_t pid) {
  std::vector<Rule> r = base_rules(pid);
  add_unique(r, vcpu_rules(pid));
  add_unique(r, event_loop_rules(pid));
  // Kernel, initrd, disks, snapshot files, /dev/kvm; guest memory; eventfds and the loop.
  add(r, {SYS_openat, SYS_close, SYS_read, SYS_pread64, SYS_lseek, SYS_fstat, SYS_newfstatat,
          SYS_eventfd2, SYS_epoll_create1, SYS_bind, SYS_listen, SYS_getsockopt, SYS_unlink});
  // A standby VMM waits for its restore request, its lifeline and its timeout at once.
  add(r, {SYS_ppoll});
  add_ioctls(r, kSetupRequests);
  for (int cmd : {F_GETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC}) {
    r.push_back(allow_if(SYS_fcntl, {arg_eq(1, static_cast<uint64_t>(cmd))}));
  }
  // Starting the vCPU threads, and what a new thread does before it loads its own filter.
  r.push_back(allow_if(SYS_clone, {arg_eq(0, kThreadCloneFlags)}));
  add(r, {SYS_set_robust_list, SYS_rseq, SYS_rt_sigaction});
  r.push_back(allow_if(SYS_prctl, {arg_eq(0, PR_SET_NAME)}));
  // Loading the vCPU and event loop filters on top of this one.
  r.push_back(allow_if(SYS_prctl, {arg_eq(0, PR_SET_NO_NEW_PRIVS)}));
  r.push_back(allow_if(SYS_seccomp, {arg_eq(0, SECCOMP_SET_MODE_FILTER), arg_eq(1, 0)}));
  std::vector<Rule> unique;
  add_unique(unique, r);
  return unique;
}

Result<Filter> startup_filter(Mode mode) { return build(mode, startup_rules(::getpid())); }
Result<Filter> vcpu_filter(Mode mode) { return build(mode, vcpu_rules(::getpid())); }
Result<Filter> event_loop_filter(Mode mode) { return build(mode, event_loop_rules(::getpid())); }

Result<ThreadFilters> ThreadFilters::build(Mode mode) {
  ThreadFilters filters;
  EMBER_TRY(Filter startup, startup_filter(mode));
  EMBER_TRY(filters.startup, startup.compile());
  EMBER_TRY(Filter vcpu, vcpu_filter(mode));
  EMBER_TRY(filters.vcpu, vcpu.compile());
  EMBER_TRY(Filter loop, event_loop_filter(mode));
  EMBER_TRY(filters.event_loop, loop.compile());
  return filters;
}

void make_forbidden_vcpu_syscall() {
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat, AT_FDCWD, "/proc/self/status",
                                         O_RDONLY | O_CLOEXEC)));
}

}  // namespace ember::vmm::seccomp

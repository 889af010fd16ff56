// seccomp::Filter and seccomp::Program on top of libseccomp.
#include "vmm/seccomp/filter.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <utility>

#include "common/unique_fd.h"

namespace ember::vmm::seccomp {
namespace {

// libseccomp answers -errno.
Error libseccomp_error(int rc, std::string op, std::string context = {}) {
  Error e = make_error("seccomp: " + std::move(op), std::move(context));
  e.code = -rc;
  return e;
}

}  // namespace

Status Program::load() const {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return errno_error("seccomp: prctl(PR_SET_NO_NEW_PRIVS)");
  }
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(code_.size());
  prog.filter = const_cast<sock_filter*>(code_.data());
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    return errno_error("seccomp: load filter",
                       "the kernel refused it (Linux 4.14 or later with CONFIG_SECCOMP_FILTER "
                       "is needed; --seccomp off runs without filters)");
  }
  return {};
}

Result<Filter> Filter::create(Mode mode) {
  if (mode == Mode::kOff) return make_error("seccomp: build filter", "--seccomp off has none");
  const uint32_t action = mode == Mode::kKill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_LOG;
  scmp_filter_ctx ctx = ::seccomp_init(action);
  if (ctx == nullptr) {
    return make_error("seccomp: build filter",
                      std::string("libseccomp refused the default action ") + mode_name(mode) +
                          " (the running kernel may be older than 4.14)");
  }
  Filter filter(ctx);
  if (int rc = ::seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, action); rc != 0) {
    return libseccomp_error(rc, "set the foreign-architecture action");
  }
  // A binary tree over the call numbers: vCPU exits pass through these filters.
  if (int rc = ::seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
    return libseccomp_error(rc, "ask for the binary-tree layout");
  }
  return filter;
}

Filter::Filter(Filter&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Filter& Filter::operator=(Filter&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) ::seccomp_release(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

Filter::~Filter() {
  if (ctx_ != nullptr) ::seccomp_release(ctx_);
}

Status Filter::add(const Rule& rule) {
  std::vector<scmp_arg_cmp> cmps;
  for (const ArgCheck& c : rule.checks) {
    if (c.mask == ~uint64_t{0}) {
      cmps.push_back({c.arg, SCMP_CMP_EQ, c.value, 0});
    } else {
      cmps.push_back({c.arg, SCMP_CMP_MASKED_EQ, c.mask, c.value});
    }
  }
  const uint32_t action = rule.error == 0 ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(rule.error);
  const int rc = ::seccomp_rule_add_array(ctx_, action, static_cast<int>(rule.syscall),
                                          static_cast<unsigned>(cmps.size()), cmps.data());
  if (rc != 0) {
    char* name = ::seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
                                                    static_cast<int>(rule.syscall));
    std::string call = name != nullptr ? name : "call " + std::to_string(rule.syscall);
    ::free(name);
    return libseccomp_error(rc, "add rule", call);
  }
  return {};
}

Status Filter::add_all(const std::vector<Rule>& rules) {
  for (const Rule& rule : rules) EMBER_CHECK(add(rule));
  return {};
}

Result<Program> Filter::compile() const {
  // libseccomp 2.5 exports only to a file descriptor; an anonymous memory file holds it.
  UniqueFd fd(::memfd_create("ember-seccomp", MFD_CLOEXEC));
  if (!fd) return errno_error("seccomp: memfd_create");
  if (int rc = ::seccomp_export_bpf(ctx_, fd.get()); rc != 0) {
    return libseccomp_error(rc, "generate BPF");
  }
  const off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size < 0) return errno_error("seccomp: size the generated BPF");
  if (size == 0 || size % sizeof(sock_filter) != 0 ||
      static_cast<size_t>(size) / sizeof(sock_filter) > BPF_MAXINSNS) {
    return make_error("seccomp: generate BPF",
                      "libseccomp produced " + std::to_string(size) + " bytes, not a program");
  }
  Program program;
  program.code_.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  size_t got = 0;
  auto* bytes = reinterpret_cast<uint8_t*>(program.code_.data());
  while (got < static_cast<size_t>(size)) {
    const ssize_t n = ::pread(fd.get(), bytes + got, static_cast<size_t>(size) - got,
                              static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_error("seccomp: read the generated BPF");
    got += static_cast<size_t>(n);
  }
  return program;
}

}  // namespace ember::vmm::seccomp

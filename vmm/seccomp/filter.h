// seccomp::Filter (an owned libseccomp context being built) and seccomp::Program (the
// classic BPF it compiles to, loadable on any thread).
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "vmm/seccomp/mode.h"

namespace ember::vmm::seccomp {

// One condition on a system call argument: (args[arg] & mask) == value. All 64 bits are
// compared, so a value with stray upper bits does not match.
struct ArgCheck {
  unsigned arg = 0;
  uint64_t mask = ~uint64_t{0};
  uint64_t value = 0;
};
inline ArgCheck arg_eq(unsigned arg, uint64_t value) { return {arg, ~uint64_t{0}, value}; }
inline ArgCheck arg_masked(unsigned arg, uint64_t mask, uint64_t value) {
  return {arg, mask, value};
}

// A system call a filter lets through (error == 0) or answers with -error, when every
// check holds. Several rules for one call are alternatives.
struct Rule {
  long syscall = -1;  // the x86-64 number, SYS_*
  std::vector<ArgCheck> checks;
  int error = 0;
};

// A compiled filter. Loading it is one prctl and one seccomp call, with no allocation,
// so threads can share one Program and load it concurrently.
class Program {
 public:
  Program() = default;
  // Installs the filter on the calling thread only; threads it starts later inherit it.
  // Filters stack: a call must pass every filter the thread has (the strictest answer
  // wins). Sets no_new_privs first, which loading without CAP_SYS_ADMIN needs.
  Status load() const;
  size_t instructions() const { return code_.size(); }

 private:
  friend class Filter;
  std::vector<sock_filter> code_;
};

// Owns an scmp_filter_ctx while rules are added. Move-only.
class Filter {
 public:
  // An empty filter whose default action is Mode's: SCMP_ACT_KILL_PROCESS for kKill,
  // SCMP_ACT_LOG for kLog (kOff is an error: there is nothing to build). Calls made under
  // another architecture's ABI (int 0x80, x32) get the default action as well.
  static Result<Filter> create(Mode mode);
  Filter(Filter&& other) noexcept;
  Filter& operator=(Filter&& other) noexcept;
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;
  ~Filter();

  Status add(const Rule& rule);
  Status add_all(const std::vector<Rule>& rules);
  // The BPF libseccomp generates for the rules so far (the program seccomp_load would use).
  Result<Program> compile() const;

 private:
  explicit Filter(void* ctx) : ctx_(ctx) {}
  void* ctx_ = nullptr;  // scmp_filter_ctx
};

}  // namespace ember::vmm::seccomp

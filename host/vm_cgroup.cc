// VmCgroup: cgroup v2 files written by hand (one value per file).
#include "host/vm_cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace ember::host {
namespace {

constexpr uint64_t kCpuPeriodUs = 100'000;
constexpr uint32_t kMbPerVcpu = 1769;

Status write_file(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  if (!out) return errno_error("open", path);
  out << value;
  out.flush();
  if (!out) return errno_error("write '" + value + "'", path);
  return {};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w) {
    if (w == word) return true;
  }
  return false;
}

Status enable_controllers(const std::string& dir) {
  const std::string available = read_file(dir + "/cgroup.controllers");
  for (const char* controller : {"memory", "cpu"}) {
    if (!has_word(available, controller)) {
      return make_error("cgroup limits", std::string("the ") + controller +
                                             " controller is not available in " + dir);
    }
    if (has_word(read_file(dir + "/cgroup.subtree_control"), controller)) continue;
    EMBER_CHECK(write_file(dir + "/cgroup.subtree_control", std::string("+") + controller));
  }
  return {};
}

}  // namespace

uint32_t vcpus_for_memory(uint32_t memory_mb) {
  return std::max<uint32_t>(1, (memory_mb + kMbPerVcpu - 1) / kMbPerVcpu);
}

double cpu_share_for_memory(uint32_t memory_mb) {
  return static_cast<double>(memory_mb) / kMbPerVcpu;
}

CgroupLimits new_vmm_limits(uint32_t memory_mb) {
  return {(uint64_t{memory_mb} << 20) + kVmmOverheadBytes, kNoCpuQuota};
}

CgroupLimits booted_vmm_limits(uint32_t memory_mb) {
  CgroupLimits limits = new_vmm_limits(memory_mb);
  limits.memory_max_bytes += uint64_t{memory_mb} << 20;
  return limits;
}

std::string cpu_max_value(double cpus) {
  if (cpus <= kNoCpuQuota) return "max " + std::to_string(kCpuPeriodUs);
  const auto quota = static_cast<uint64_t>(std::llround(cpus * kCpuPeriodUs));
  return std::to_string(std::max<uint64_t>(quota, 1000)) + " " + std::to_string(kCpuPeriodUs);
}

Status VmCgroup::prepare(const std::string& root) {
  if (::access((root + "/cgroup.controllers").c_str(), R_OK) != 0) {
    return make_error("cgroup limits", root + " is not a cgroup v2 hierarchy; mount one with "
                                              "`mount -t cgroup2 none " + root + "`");
  }
  EMBER_CHECK(enable_controllers(root));
  const std::string ember = root + "/ember";
  if (::mkdir(ember.c_str(), 0755) != 0 && errno != EEXIST) return errno_error("mkdir", ember);
  return enable_controllers(ember);
}

Result<VmCgroup> VmCgroup::create(const std::string& root, const std::string& name,
                                  const CgroupLimits& limits) {
  const std::string path = root + "/ember/" + name;
  if (::mkdir(path.c_str(), 0755) != 0) return errno_error("mkdir", path);
  VmCgroup cgroup(path);
  EMBER_CHECK(cgroup.set_memory_max(limits.memory_max_bytes));
  // Best effort: without swap configured the file may not exist.
  (void)write_file(path + "/memory.swap.max", "0");
  EMBER_CHECK(cgroup.set_cpus(limits.cpus));
  cgroup.dir_.reset(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup.dir_) return errno_error("open", path);
  return cgroup;
}

std::string VmCgroup::fresh_name() {
  static std::atomic<uint64_t> next{1};
  return "vm-" + std::to_string(::getpid()) + "-" + std::to_string(next++);
}

VmCgroup::VmCgroup(VmCgroup&& other) noexcept
    : path_(std::exchange(other.path_, {})), dir_(std::move(other.dir_)) {}

VmCgroup& VmCgroup::operator=(VmCgroup&& other) noexcept {
  if (this != &other) {
    VmCgroup old(std::move(*this));
    path_ = std::exchange(other.path_, {});
    dir_ = std::move(other.dir_);
  }
  return *this;
}

VmCgroup::~VmCgroup() {
  if (path_.empty()) return;
  // The killed process may take a moment to leave the cgroup.
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (::rmdir(path_.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) break;
    ::usleep(2'000);
  }
  std::fprintf(stderr, "emberd: warning: cannot remove cgroup %s: %s\n", path_.c_str(),
               std::strerror(errno));
}

Status VmCgroup::set_cpus(double cpus) const {
  return write_file(path_ + "/cpu.max", cpu_max_value(cpus));
}

Status VmCgroup::set_memory_max(uint64_t bytes) const {
  return write_file(path_ + "/memory.max", std::to_string(bytes));
}

uint64_t VmCgroup::memory_peak_bytes() const {
  const std::string text = read_file(path_ + "/memory.peak");
  return text.empty() ? 0 : std::strtoull(text.c_str(), nullptr, 10);
}

}  // namespace ember::host

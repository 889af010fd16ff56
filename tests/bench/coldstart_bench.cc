// ember-bench-coldstart: boot + init vs restore vs ready pool for one Python invocation.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "tests/bench/bench_function.h"
#include "tests/bench/bench_report.h"
#include "tests/bench/coldstart_config.h"
#include "tests/bench/coldstart_paths.h"
#include "tests/bench/memory_groups.h"
#include "tests/bench/restore_breakdown.h"

namespace ember::bench {
namespace {

namespace fs = std::filesystem;

// The scratch folder: created empty, removed with everything in it.
class WorkDir {
 public:
  static Result<WorkDir> create(const std::string& path) {
    std::error_code ec;
    if (fs::exists(path, ec)) return make_error("work dir", path + " exists; give a new one");
    fs::create_directories(path + "/run", ec);
    if (ec) return make_error("create " + path, ec.message());
    return WorkDir(path);
  }
  WorkDir(WorkDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  WorkDir& operator=(WorkDir&&) = delete;
  ~WorkDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit WorkDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

std::string round_ms(double ms) { return std::to_string(std::lround(ms)) + " ms"; }

Status check_files(const ColdstartConfig& c) {
  for (const std::string& path : {c.vmm, c.kernel, c.rootfs, c.initramfs}) {
    if (!fs::exists(path)) {
      return make_error("find the guest's files",
                        path + " is missing; scripts/bench-coldstart builds everything");
    }
  }
  return {};
}

Status run_paths(const ColdstartConfig& config, const ColdstartPaths& paths, PathSamples& samples,
                 uint32_t& invocation) {
  auto pool = paths.make_pool();
  for (uint32_t i = 1; i <= config.runs; ++i) {
    const std::string run = "run " + std::to_string(i) + "/" + std::to_string(config.runs);
    EMBER_TRY(Sample a, paths.boot_path(invocation++));
    progress(run + " (a) boot + init: " + round_ms(a.total_ms) + " (ready " + round_ms(a.ready_ms) +
             ", init " + round_ms(a.init_ms) + ", invoke " + round_ms(a.invoke_ms) + ")");
    EMBER_TRY(Sample b, paths.restore_path(invocation++));
    progress(run + " (b) restore: " + round_ms(b.total_ms) + " (ready " + round_ms(b.ready_ms) +
             ", invoke " + round_ms(b.invoke_ms) + "; invoke again " + round_ms(b.invoke_again_ms) +
             ")");
    EMBER_TRY(Sample w, paths.restore_path(invocation++, /*with_working_set=*/true));
    progress(run + " (w) restore with the working set: " + round_ms(w.total_ms) + " (ready " +
             round_ms(w.ready_ms) + ", invoke " + round_ms(w.invoke_ms) + "; invoke again " +
             round_ms(w.invoke_again_ms) + ")");
    EMBER_TRY(Sample c, paths.pool_path(*pool, invocation++));
    progress(run + " (c) pool: " + round_ms(c.total_ms) + " (acquire " + round_ms(c.ready_ms) +
             ", invoke " + round_ms(c.invoke_ms) + "; invoke again " +
             round_ms(c.invoke_again_ms) + "; KVM had fixed " +
             std::to_string(c.prefetched_pages) + " faults when the prefetch was done)");
    EMBER_TRY(RestoreBreakdown d,
              measure_restore_breakdown(paths.snapshot_spec(), paths.restore_options()));
    progress(run + " restore breakdown: " + round_ms(d.total_ms) + " under --log-level debug");
    samples.boot.push_back(a);
    samples.restore.push_back(b);
    samples.working_set.push_back(w);
    samples.pool.push_back(c);
    samples.breakdowns.push_back(std::move(d));
  }
  return {};
}

Status run(const ColdstartConfig& config) {
  EMBER_CHECK(check_files(config));
  EMBER_TRY(WorkDir work, WorkDir::create(config.work_dir));
  EMBER_TRY(BenchFunction function,
            BenchFunction::create(work.path(), config.mkfs_erofs, config.mem_mib));
  ColdstartPaths paths(config, function, work.path() + "/run", work.path() + "/snapshot");

  progress("booting the first VM and taking the init snapshot (warm-up, not counted)");
  Sample warmup;
  EMBER_CHECK(paths.make_snapshot(warmup));
  progress("init snapshot taken: boot to ready " + round_ms(warmup.ready_ms) + ", init " +
           round_ms(warmup.init_ms));

  PathSamples samples;
  uint32_t invocation = 1;
  EMBER_CHECK(run_paths(config, paths, samples, invocation));

  // The timings first: they stand even if the memory groups prove too heavy for the host.
  print_paths(config, samples);
  print_counts(samples);
  print_breakdown(samples.breakdowns);
  std::fflush(stdout);

  std::optional<MemoryComparison> memory;
  Status measured;
  if (config.mem_vms > 0) {
    const std::string n = std::to_string(config.mem_vms);
    progress("memory: " + n + " clones, " +
             (samples.working_set.empty() ? "" : "then " + n + " with the working set, ") +
             "then " + n + " fresh boots");
    auto compared =
        compare_memory(paths, config.mem_vms, invocation, !samples.working_set.empty());
    if (compared.ok()) {
      memory = *compared;
      print_memory(*memory);
    } else {
      measured = compared.error();
    }
  }
  print_targets(samples, memory);
  std::fflush(stdout);
  return measured;
}

}  // namespace
}  // namespace ember::bench

int main(int argc, char** argv) {
  using ember::bench::BenchExit;
  auto flags = ember::bench::parse_coldstart_flags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "ember-bench-coldstart: %s\n\n%s", flags.error().message().c_str(),
                 ember::bench::coldstart_usage().c_str());
    return static_cast<int>(BenchExit::kUsage);
  }
  if (flags->help) {
    std::fputs(ember::bench::coldstart_usage().c_str(), stdout);
    return static_cast<int>(BenchExit::kOk);
  }
  ember::Status status = ember::bench::run(flags->config);
  if (!status.ok()) {
    std::fprintf(stderr, "ember-bench-coldstart: error: %s\n", status.error().message().c_str());
    return static_cast<int>(BenchExit::kError);
  }
  return static_cast<int>(BenchExit::kOk);
}

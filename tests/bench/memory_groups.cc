// Memory groups: start N VMs of one kind, invoke each, sum their PSS, destroy them.
#include "tests/bench/memory_groups.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "tests/bench/bench_report.h"

namespace ember::bench {
namespace {

using MakeVm = std::function<Result<std::unique_ptr<host::PooledVm>>(Sample&)>;

std::string mib(uint64_t kib) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(kib) / 1024);
  return text;
}

Result<ProcessMemory> measure_group(const ColdstartPaths& paths, const std::string& kind,
                                    uint32_t vms, uint32_t& invocation, const MakeVm& make) {
  std::vector<std::unique_ptr<host::PooledVm>> alive;  // destroyed when this returns
  std::vector<pid_t> pids;
  for (uint32_t i = 0; i < vms; ++i) {
    Sample sample;
    EMBER_TRY(std::unique_ptr<host::PooledVm> vm, make(sample));
    EMBER_CHECK(paths.invoke(*vm, invocation++, sample));
    pids.push_back(vm->process().pid());
    alive.push_back(std::move(vm));
    EMBER_TRY(ProcessMemory m, process_memory(pids.back()));
    progress("memory: " + kind + " " + std::to_string(i + 1) + "/" + std::to_string(vms) +
             " running (ready in " + std::to_string(std::lround(sample.ready_ms)) +
             " ms), its PSS " + mib(m.pss_kib));
  }
  // Let the last VM's invocation settle before reading every VMM's figures at one moment.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  return group_memory(pids);
}

}  // namespace

Result<MemoryComparison> compare_memory(const ColdstartPaths& paths, uint32_t vms,
                                        uint32_t first_invocation, bool with_working_set) {
  MemoryComparison out;
  out.vms = vms;
  uint32_t invocation = first_invocation;
  const MakeVm restore = [&paths](Sample& s) -> Result<std::unique_ptr<host::PooledVm>> {
    EMBER_TRY(std::unique_ptr<host::RestoredVm> vm, paths.restore(s));
    return std::unique_ptr<host::PooledVm>(std::move(vm));
  };
  EMBER_TRY(out.clones, measure_group(paths, "clone", vms, invocation, restore));
  progress("memory: " + std::to_string(vms) + " clones' PSS sum " + mib(out.clones.pss_kib));
  if (with_working_set) {
    EMBER_CHECK(paths.install_working_set(true));
    auto measured =
        measure_group(paths, "clone with the working set", vms, invocation, restore);
    EMBER_CHECK(paths.install_working_set(false));
    if (!measured.ok()) return measured.error();
    out.clones_with_working_set = *measured;
    progress("memory: " + std::to_string(vms) + " clones' PSS sum with the working set " +
             mib(measured->pss_kib));
  }
  EMBER_TRY(out.boots,
            measure_group(paths, "fresh boot", vms, invocation,
                          [&paths](Sample& s) -> Result<std::unique_ptr<host::PooledVm>> {
                            EMBER_TRY(std::unique_ptr<host::BootedVm> vm, paths.boot_and_init(s));
                            return std::unique_ptr<host::PooledVm>(std::move(vm));
                          }));
  progress("memory: " + std::to_string(vms) + " fresh boots' PSS sum " + mib(out.boots.pss_kib));
  return out;
}

}  // namespace ember::bench

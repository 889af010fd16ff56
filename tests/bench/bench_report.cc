// The benchmark's tables: medians per phase, the restore breakdown, memory, and the targets.
#include "tests/bench/bench_report.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace ember::bench {
namespace {

// The targets.
constexpr double kReadyRatioTarget = 1.0 / 20;   // restore-to-ready / boot-to-ready
constexpr double kRestorePathTarget = 1.0 / 20;  // path (b) / path (a)
constexpr double kFirstInvokeTarget = 2.0;  // a clone's first invocation / its second
constexpr double kFaultRatioTarget = 0.1;  // "at least 10x fewer" KVM faults in that invocation
constexpr double kMemoryRatioTarget = 0.40;      // clones' PSS / fresh boots' PSS

struct Summary {
  double median = 0, min = 0, max = 0;
};

Summary summarize(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  Summary s;
  s.min = values.front();
  s.max = values.back();
  s.median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return s;
}

Summary summarize(const std::vector<Sample>& samples, double Sample::*field) {
  std::vector<double> values;
  for (const Sample& s : samples) values.push_back(s.*field);
  return summarize(std::move(values));
}

double median(const std::vector<Sample>& samples, double Sample::*field) {
  return summarize(samples, field).median;
}

// Milliseconds with as many decimals as small values need.
std::string ms(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), value < 1 ? "%.3f" : value < 100 ? "%.1f" : "%.0f", value);
  return text;
}

void print_row(const std::string& name, const Summary& s) {
  std::printf("%-44s %11s %10s %10s\n", name.c_str(), ms(s.median).c_str(), ms(s.min).c_str(),
              ms(s.max).c_str());
}

}  // namespace

void print_counts(const PathSamples& samples) {
  const std::vector<Sample>& restores = samples.restore;
  const bool with_ws = !samples.working_set.empty();
  std::printf("\nwhat the clone's VMM counted per invocation, path (b), median of %zu%s; (c): "
              "the ready pool's VMs, their working set prefetched:\n",
              restores.size(), with_ws ? "; (w): the same restores with the working set" : "");
  std::printf("%-44s %11s %10s %10s", "count", "first", "warm", "first/warm");
  if (with_ws) std::printf(" %11s %10s", "(w) first", "(b)/(w)");
  std::printf(" %11s %10s %10s\n", "(c) first", "(c) warm", "(b)/(c)");
  auto median_of = [&](const std::vector<Sample>& of, VmCounts Sample::*counts,
                       const std::string& name) {
    std::vector<double> values;
    for (const Sample& s : of) {
      auto found = (s.*counts).find(name);
      if (found != (s.*counts).end()) values.push_back(static_cast<double>(found->second));
    }
    return values.empty() ? std::optional<double>() : summarize(std::move(values)).median;
  };
  auto ratio_text = [](double a, double b) {
    char text[32] = "-";
    if (b > 0) std::snprintf(text, sizeof(text), "%.1f", a / b);
    return std::string(text);
  };
  for (const std::string& name : reported_counts()) {
    const auto first = median_of(restores, &Sample::first_counts, name);
    const auto warm = median_of(restores, &Sample::again_counts, name);
    if (!first || !warm) continue;  // not offered by this kernel
    std::printf("%-44s %11.0f %10.0f %10s", name.c_str(), *first, *warm,
                ratio_text(*first, *warm).c_str());
    if (const auto ws = median_of(samples.working_set, &Sample::first_counts, name); ws) {
      std::printf(" %11.0f %10s", *ws, ratio_text(*first, *ws).c_str());
    }
    const auto pool_first = median_of(samples.pool, &Sample::first_counts, name);
    const auto pool_warm = median_of(samples.pool, &Sample::again_counts, name);
    if (pool_first && pool_warm) {
      std::printf(" %11.0f %10.0f %10s", *pool_first, *pool_warm,
                  ratio_text(*first, *pool_first).c_str());
    }
    std::printf("\n");
  }
}

namespace {

double mib(uint64_t kib) { return static_cast<double>(kib) / 1024; }

// The median over samples of one count in their first invocation (0 when none has it).
double median_count(const std::vector<Sample>& samples, const std::string& name) {
  std::vector<double> values;
  for (const Sample& s : samples) {
    auto found = s.first_counts.find(name);
    if (found != s.first_counts.end()) values.push_back(static_cast<double>(found->second));
  }
  return values.empty() ? 0 : summarize(std::move(values)).median;
}

void print_target(const std::string& name, double value, std::optional<double> target) {
  if (!target) {
    std::printf("%-44s %9.4f %12s\n", name.c_str(), value, "-");
    return;
  }
  char limit[32];
  std::snprintf(limit, sizeof(limit), "<= %.4f", *target);
  std::printf("%-44s %9.4f %12s  %s\n", name.c_str(), value, limit,
              value <= *target ? "PASS" : "MISS");
}

}  // namespace

void progress(const std::string& message) {
  std::fprintf(stderr, "[bench-coldstart] %s\n", message.c_str());
  std::fflush(stderr);
}

void print_paths(const ColdstartConfig& config, const PathSamples& samples) {
  const char* where = std::getenv("EMBER_IN_TESTHOST") != nullptr
                          ? "inside the KVM test host (TCG-emulated; compare ratios)"
                          : "on this machine's KVM";
  std::printf(
      "\ncold start, request -> response of one python3.11 invocation (init snapshot), %u "
      "runs per path, interleaved, %u MiB, 1 vCPU, %s\n",
      config.runs, config.mem_mib, where);
  std::printf("%-44s %11s %10s %10s\n", "path / phase", "median ms", "min ms", "max ms");
  print_row("(a) boot + init + invoke", summarize(samples.boot, &Sample::total_ms));
  print_row("      boot to ready (spawn -> agent Ready)",
            summarize(samples.boot, &Sample::ready_ms));
  print_row("      init (InitRuntime -> InitResult)", summarize(samples.boot, &Sample::init_ms));
  print_row("      invoke (Invoke -> InvokeResult)", summarize(samples.boot, &Sample::invoke_ms));
  print_row("(b) restore + invoke", summarize(samples.restore, &Sample::total_ms));
  print_row("      restore to ready (request -> RefreshAck)",
            summarize(samples.restore, &Sample::ready_ms));
  print_row("      invoke", summarize(samples.restore, &Sample::invoke_ms));
  print_row("      (invoke again on that clone; not counted)",
            summarize(samples.restore, &Sample::invoke_again_ms));
  if (!samples.working_set.empty()) {
    print_row("(w) restore with the working set + invoke",
              summarize(samples.working_set, &Sample::total_ms));
    print_row("      restore to ready (request -> RefreshAck)",
              summarize(samples.working_set, &Sample::ready_ms));
    print_row("      invoke", summarize(samples.working_set, &Sample::invoke_ms));
    print_row("      (invoke again on that clone; not counted)",
              summarize(samples.working_set, &Sample::invoke_again_ms));
  }
  print_row("(c) ready pool, working set prefetched: acquire + invoke",
            summarize(samples.pool, &Sample::total_ms));
  print_row("      acquire", summarize(samples.pool, &Sample::ready_ms));
  print_row("      invoke", summarize(samples.pool, &Sample::invoke_ms));
  print_row("      (invoke again on that clone; not counted)",
            summarize(samples.pool, &Sample::invoke_again_ms));
}

void print_breakdown(const std::vector<RestoreBreakdown>& breakdowns) {
  if (breakdowns.empty()) return;
  const RestoreBreakdown& last = breakdowns.back();
  auto series = [&breakdowns](const std::function<double(const RestoreBreakdown&)>& field) {
    std::vector<double> values;
    for (const RestoreBreakdown& b : breakdowns) values.push_back(field(b));
    return summarize(std::move(values));
  };
  const Summary total = series([](const RestoreBreakdown& b) { return b.total_ms; });
  const Summary tries = series([](const RestoreBreakdown& b) { return b.connect_tries; });
  std::printf(
      "\nrestore to ready, broken down: %zu further restores (one per run) by a standby "
      "`ember-vmm --standby --log-level debug`, median %s ms (min %s, max %s); vsock sessions "
      "opened until one was refreshed: median %.0f (max %.0f)\n",
      breakdowns.size(), ms(total.median).c_str(), ms(total.min).c_str(), ms(total.max).c_str(),
      tries.median, tries.max);
  std::printf("%-56s %10s %10s %10s %7s\n", "step", "median ms", "min ms", "max ms", "share");
  std::string dominant;
  double dominant_ms = -1;
  for (size_t i = 0; i < last.steps.size(); ++i) {
    const Summary step =
        series([i](const RestoreBreakdown& b) { return i < b.steps.size() ? b.steps[i].ms : 0.0; });
    std::printf("%-56s %10s %10s %10s %6.1f%%\n", last.steps[i].name.c_str(),
                ms(step.median).c_str(), ms(step.min).c_str(), ms(step.max).c_str(),
                100 * step.median / total.median);
    if (step.median > dominant_ms) {
      dominant = last.steps[i].name;
      dominant_ms = step.median;
    }
  }
  std::printf(
      "dominant: %s (%.0f%% of the median restore; shares are of medians and need not "
      "add up to 100%%)\n",
      dominant.c_str(), 100 * dominant_ms / total.median);
  const Summary help = series([](const RestoreBreakdown& b) { return b.vmm_help_ms; });
  std::printf(
      "for scale: spawn -> exit of `ember-vmm --help` just after each (exec and start-up, no "
      "KVM; what a standby VMM spares a restore): median %s ms (min %s, max %s)\n",
      ms(help.median).c_str(), ms(help.min).c_str(), ms(help.max).c_str());
  std::printf("ember-vmm's own lines, last restore:\n");
  for (const std::string& line : last.vmm_lines) std::printf("  %s\n", line.c_str());
}

void print_memory(const MemoryComparison& memory) {
  std::printf(
      "\nmemory of %u VMs alive at once, each invoked once: sum over their ember-vmm "
      "processes of /proc/<pid>/smaps_rollup, MiB\n",
      memory.vms);
  std::printf("%-36s %9s %8s %9s %9s %9s %9s\n", "group", "PSS sum", "per VM", "PSS anon",
              "PSS file", "PSS shmem", "RSS sum");
  auto row = [&memory](const std::string& name, const ProcessMemory& m) {
    std::printf("%-36s %9.1f %8.1f %9.1f %9.1f %9.1f %9.1f\n", name.c_str(), mib(m.pss_kib),
                mib(m.pss_kib) / memory.vms, mib(m.pss_anon_kib), mib(m.pss_file_kib),
                mib(m.pss_shmem_kib), mib(m.rss_kib));
  };
  row(std::to_string(memory.vms) + " clones of the init snapshot", memory.clones);
  if (memory.clones_with_working_set) {
    row(std::to_string(memory.vms) + " clones, the working set installed",
        *memory.clones_with_working_set);
  }
  row(std::to_string(memory.vms) + " fresh boots + init", memory.boots);
}

void print_targets(const PathSamples& samples, const std::optional<MemoryComparison>& memory) {
  std::printf("\n%-44s %9s %12s  %s\n", "ratio (of medians)", "value", "target", "result");
  print_target("restore-to-ready / boot-to-ready",
               median(samples.restore, &Sample::ready_ms) / median(samples.boot, &Sample::ready_ms),
               kReadyRatioTarget);
  const double a = median(samples.boot, &Sample::total_ms);
  print_target("(b) restore path / (a) boot path", median(samples.restore, &Sample::total_ms) / a,
               kRestorePathTarget);
  print_target("(b) first invocation / warm invocation",
               median(samples.restore, &Sample::invoke_ms) /
                   median(samples.restore, &Sample::invoke_again_ms),
               kFirstInvokeTarget);
  if (!samples.working_set.empty()) {
    print_target("(w) restore path / (a) boot path",
                 median(samples.working_set, &Sample::total_ms) / a, kRestorePathTarget);
    print_target("(w) first invocation / warm invocation",
                 median(samples.working_set, &Sample::invoke_ms) /
                     median(samples.working_set, &Sample::invoke_again_ms),
                 kFirstInvokeTarget);
    print_target("(w) restore-to-ready / boot-to-ready",
                 median(samples.working_set, &Sample::ready_ms) /
                     median(samples.boot, &Sample::ready_ms),
                 kReadyRatioTarget);
  }
  print_target("(c) first invocation / warm invocation",
               median(samples.pool, &Sample::invoke_ms) /
                   median(samples.pool, &Sample::invoke_again_ms),
               kFirstInvokeTarget);
  const double b_faults = median_count(samples.restore, "kvm.vcpus.pf_taken");
  if (b_faults > 0) {
    print_target("(c) first invocation's KVM faults / (b)'s",
                 median_count(samples.pool, "kvm.vcpus.pf_taken") / b_faults, kFaultRatioTarget);
  }
  print_target("(c) pool path / (a) boot path", median(samples.pool, &Sample::total_ms) / a,
               std::nullopt);
  print_target("(c) pool path / (b) restore path",
               median(samples.pool, &Sample::total_ms) / median(samples.restore, &Sample::total_ms),
               std::nullopt);
  if (memory) {
    print_target(
        std::to_string(memory->vms) + " clones' PSS / " + std::to_string(memory->vms) +
            " fresh boots' PSS",
        static_cast<double>(memory->clones.pss_kib) / static_cast<double>(memory->boots.pss_kib),
        kMemoryRatioTarget);
    if (memory->clones_with_working_set) {
      print_target("(w) " + std::to_string(memory->vms) + " clones' PSS / fresh boots' PSS",
                   static_cast<double>(memory->clones_with_working_set->pss_kib) /
                       static_cast<double>(memory->boots.pss_kib),
                   kMemoryRatioTarget);
    }
  } else {
    std::printf("%-44s %9s %12s  %s\n", "clones' PSS / fresh boots' PSS", "-", "<= 0.4000",
                "not measured");
  }
}

}  // namespace ember::bench

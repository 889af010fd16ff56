// The benchmark's output: progress lines on stderr, tables and target checks on stdout.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tests/bench/coldstart_config.h"
#include "tests/bench/coldstart_paths.h"
#include "tests/bench/memory_groups.h"
#include "tests/bench/restore_breakdown.h"

namespace ember::bench {

// "[bench-coldstart] message" on stderr, flushed (the test host's console shows it live).
void progress(const std::string& message);

struct PathSamples {
  std::vector<Sample> boot, restore, pool;   // (a), (b), (c)
  std::vector<Sample> working_set;           // (w): (b) with the recorded working set
  std::vector<RestoreBreakdown> breakdowns;  // one debug-logged restore per run
};

// Per path and phase: median, min and max over the runs.
void print_paths(const ColdstartConfig& config, const PathSamples& samples);
// Each step's median time and share of the median restore, the dominant step, and the last
// restore's own lines from ember-vmm.
void print_breakdown(const std::vector<RestoreBreakdown>& breakdowns);
void print_memory(const MemoryComparison& memory);
// Per count of reported_counts() the kernel offers: the median over path (b)'s runs for the
// first invocation on a clone and for the second (warm) one, and their ratio; then path (w)'s
// first invocation and the ratio (b)/(w) when (w) ran.
void print_counts(const PathSamples& samples);
// The targets from the medians (and the memory sums when measured): value, target
// and PASS or MISS.
void print_targets(const PathSamples& samples, const std::optional<MemoryComparison>& memory);

}  // namespace ember::bench

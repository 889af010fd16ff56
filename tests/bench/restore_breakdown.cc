// RestoreBreakdown: one debug-logged restore, its log lines parsed and put on the host's clock.
#include "tests/bench/restore_breakdown.h"

#include <chrono>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "host/agent_client.h"
#include "host/vm_client.h"
#include "host/vm_socket_files.h"
#include "tests/bench/coldstart_paths.h"

namespace ember::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double ms_between(int64_t from_ns, int64_t to_ns) { return double(to_ns - from_ns) / 1e6; }

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

Result<double> measure_vmm_help(const std::string& vmm) {
  const int64_t spawn_ns = now_ns();
  EMBER_TRY(host::VmProcess process, host::VmProcess::spawn_command({vmm, "--help"}));
  EMBER_TRY(std::optional<int> status, process.wait_for(std::chrono::seconds(30)));
  const int64_t exit_ns = now_ns();
  if (!status || *status != 0) {
    return make_error(vmm + " --help", "did not exit with 0: " + process.stderr_output(4096));
  }
  return ms_between(spawn_ns, exit_ns);
}

}  // namespace

Result<VmmRestoreLog> parse_vmm_restore_log(const std::string& output) {
  // Their times are microseconds; "first KVM_RUN" also gives CLOCK_MONOTONIC, which is the
  // host's steady_clock here.
  const std::regex step_line(R"(restore: (.+) took (\d+) us)");
  const std::regex restored_line(R"(restored in (\d+) us)");
  const std::regex first_run_line(R"(first KVM_RUN after (\d+) us \(monotonic (\d+) ns\))");
  VmmRestoreLog log;
  bool restored = false, first_run = false;
  std::istringstream in(output);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, step_line)) {
      log.steps.push_back({m[1].str(), std::stod(m[2].str()) / 1e3});
    } else if (std::regex_search(line, m, restored_line)) {
      log.restored_ms = std::stod(m[1].str()) / 1e3;
      restored = true;
    } else if (std::regex_search(line, m, first_run_line)) {
      log.main_to_run_ms = std::stod(m[1].str()) / 1e3;
      log.first_run_ns = std::stoll(m[2].str());
      first_run = true;
    } else {
      continue;
    }
    log.lines.push_back(line);
  }
  if (log.steps.empty() || !restored || !first_run) {
    return make_error(
        "parse ember-vmm's debug log",
        "no 'restore: ... took', 'restored in' or 'first KVM_RUN' line in:\n" + output);
  }
  return log;
}

namespace {

// The restore itself, on a standby VMM as emberd does it; its VM is destroyed on return.
Result<RestoreBreakdown> debug_restore(const host::SnapshotSpec& spec,
                                       const host::RestoredVmOptions& options) {
  EMBER_TRY(host::SpawnedVmm standby,
            spawn_listening_standby(options.vmm_path, options.run_dir, {"--log-level", "debug"}));
  host::VmProcess& process = standby.process;
  auto failed = [&process](const std::string& why) {
    return make_error("debug-logged restore",
                      why + "; ember-vmm stderr:\n" + process.stderr_output(4096));
  };
  const int64_t request_ns = now_ns();
  EMBER_CHECK(host::restore_on_standby(standby, spec.dir, spec.disks, options.ready_timeout));
  const int64_t restored_ns = now_ns();
  // As AgentSession::connect_refreshed: a session the guest resets before RefreshAck (its
  // vsock transport reset may come after the accept) is opened again.
  const auto deadline = Clock::now() + options.ready_timeout;
  int64_t connected_ns = 0, ready_ns = 0;
  uint32_t tries = 0;
  while (ready_ns == 0) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return failed("no refreshed agent session in time");
    auto exited = process.wait_for(milliseconds(0));
    if (exited.ok() && exited->has_value()) return failed("ember-vmm exited");
    ++tries;
    auto opened = host::AgentSession::connect_vsock(standby.files.vsock_uds, kAgentExecPort,
                                                    std::min(left, milliseconds(250)));
    if (opened.ok()) {
      connected_ns = now_ns();
      Status refreshed = opened->refresh(left);
      if (refreshed.ok()) {
        ready_ns = now_ns();
        break;
      }
      if (refreshed.error().op == "agent refresh") return failed(refreshed.error().message());
    }
    std::this_thread::sleep_for(milliseconds(5));
  }

  // All of it: unhandled-port lines at debug level may follow the restore's own.
  EMBER_TRY(VmmRestoreLog log, parse_vmm_restore_log(process.stderr_output(size_t{64} << 20)));
  RestoreBreakdown out;
  out.connect_tries = tries;
  out.vmm_lines = log.lines;
  // A standby VMM's "first KVM_RUN after" counts from the moment it had the request.
  const int64_t received_ns = log.first_run_ns - static_cast<int64_t>(log.main_to_run_ms * 1e6);
  out.steps.push_back({"restore request -> the standby VMM has it",
                       ms_between(request_ns, received_ns)});
  double vmm_steps_ms = 0;
  for (const RestoreStep& step : log.steps) {
    out.steps.push_back({"vmm: " + step.name, step.ms});
    vmm_steps_ms += step.ms;
  }
  out.steps.push_back({"vmm: start control socket", log.restored_ms - vmm_steps_ms});
  out.steps.push_back(
      {"vmm: reply, start the vCPU threads", log.main_to_run_ms - log.restored_ms});
  // The reply and the first KVM_RUN race; the host waits for the reply before connecting.
  const int64_t running_ns = std::max(log.first_run_ns, restored_ns);
  out.steps.push_back({"first KVM_RUN (and the reply) -> guest accepts the vsock connection",
                       ms_between(running_ns, connected_ns)});
  out.steps.push_back({"Refresh -> RefreshAck", ms_between(connected_ns, ready_ns)});
  out.total_ms = ms_between(request_ns, ready_ns);
  return out;
}

}  // namespace

Result<RestoreBreakdown> measure_restore_breakdown(const host::SnapshotSpec& spec,
                                                   const host::RestoredVmOptions& options) {
  EMBER_TRY(RestoreBreakdown out, debug_restore(spec, options));
  // After, not before: an exec just before would warm what the restore's own exec pays for.
  EMBER_TRY(out.vmm_help_ms, measure_vmm_help(options.vmm_path));
  return out;
}

}  // namespace ember::bench

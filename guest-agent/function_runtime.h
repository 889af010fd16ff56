// FunctionRuntime: the agent's one function runtime. InitRuntime starts it behind the Runtime
// API; Invoke runs one invocation through it, from whichever session sends it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/agent_protocol.h"
#include "common/result.h"
#include "guest-agent/child_reaper.h"
#include "guest-agent/invocation_broker.h"
#include "guest-agent/log_buffer.h"
#include "guest-agent/process_spawn.h"
#include "guest-agent/runtime_api.h"
#include "guest-agent/runtime_process.h"

namespace ember::agent {

struct FunctionRuntimeConfig {
  // Holds python/bootstrap.py and nodejs/bootstrap.js (rootfs/runtimes in the source tree).
  std::string runtimes_dir = "/opt/ember/runtimes";
  uint16_t api_port = 9001;  // the Runtime API on 127.0.0.1; 0: an ephemeral port (tests)
  // false (test mode): InitRuntime.code_device is not mounted, only logged.
  bool mount_code = true;
  // cgroup v2 directory the runtime runs in, for memory.peak; empty: VmHWM of its processes.
  std::string memory_cgroup;
  // Who the runtime runs as (the agent as PID 1: sbx_user1051); unset: the agent's own user
  // (test mode). A failed drop ends init as Runtime.InvalidEntrypoint, as a failed exec does.
  std::optional<Credentials> runtime_user;
};

class FunctionRuntime {
 public:
  FunctionRuntime(ChildReaper& reaper, FunctionRuntimeConfig config)
      : reaper_(reaper), config_(std::move(config)) {}
  // stop(), then waits for the server's and the monitor's threads.
  ~FunctionRuntime();
  FunctionRuntime(const FunctionRuntime&) = delete;
  FunctionRuntime& operator=(const FunctionRuntime&) = delete;

  // Mounts the code (when asked), starts the Runtime API and the runtime, and waits for the
  // end of init: ok at the runtime's first `next`; otherwise the runtime's own init error,
  // Runtime.ExitError / Runtime.OutOfMemory when it exits, Runtime.InvalidEntrypoint when
  // there is nothing to run, Sandbox.Timedout after init_timeout_ms (the runtime is killed
  // on every failure). Errors, for the host's mistakes or the machine's: an unknown runtime,
  // a bad task_root, a second InitRuntime, a failed mount or Runtime API.
  Result<InitResult> init(const InitRuntime& request);

  // Hands the invocation to the runtime and waits for its response, error or exit. Errors:
  // no successful init yet, an invocation already running, a malformed request id, a payload
  // over kMaxInvokePayload, agent shutdown.
  Result<InvokeResult> invoke(const Invoke& request);

  // Kills the runtime and wakes every waiter for good (agent shutdown).
  void stop();

  // A Refresh was acknowledged: once init has started, this VM was restored from a snapshot
  // (see InvocationBroker::note_restore); before, it was the host's Refresh after a boot.
  void note_refresh();

 private:
  ChildReaper& reaper_;
  const FunctionRuntimeConfig config_;
  InvocationBroker broker_;
  LogBuffer log_{kMaxRuntimeLogBytes};
  std::mutex mu_;
  bool init_started_ = false;
  std::unique_ptr<RuntimeApiServer> server_;  // destroyed after process_
  std::unique_ptr<RuntimeProcess> process_;
};

// The command line of a runtime: python3.11 runs /usr/bin/python3 <runtimes_dir>/python/
// bootstrap.py, nodejs18.x /usr/bin/node <runtimes_dir>/nodejs/bootstrap.js, provided and
// provided.al2 <task_root>/bootstrap. An error for any other name.
Result<std::vector<std::string>> runtime_command(std::string_view runtime,
                                                 const std::string& runtimes_dir,
                                                 const std::string& task_root);

// request.env with _HANDLER, LAMBDA_TASK_ROOT and AWS_LAMBDA_RUNTIME_API (127.0.0.1:port)
// set from the request and the server, and PATH added when it is missing.
std::vector<std::string> runtime_environment(const InitRuntime& request, uint16_t api_port);

}  // namespace ember::agent

// Invoker: the interface through which emberd runs invocations (microVMs: host/runtime/).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "host/jail/jail_options.h"
#include "host/net/egress_policy.h"

namespace ember::host {

namespace net {
class HostNetwork;
}

// A function's $LATEST configuration as the invoker needs it.
struct FunctionSpec {
  std::string name;
  std::string arn;
  std::string runtime;  // python3.11, nodejs18.x, provided, provided.al2
  std::string handler;
  uint32_t memory_mb = 128;
  uint32_t timeout_s = 3;
  uint32_t ephemeral_mb = 512;  // /tmp
  std::map<std::string, std::string> env;
  std::string code_sha256_hex;
  std::string code_image_path;  // the erofs image to mount read-only at /var/task
  std::string revision_id;      // changes with every code or configuration change
  std::string egress;           // a canonical egress policy; "" for emberd's --egress-default
};

struct InvokeRequest {
  FunctionSpec fn;
  std::string request_id;      // a UUID; also the API's x-amzn-RequestId
  std::string payload;         // the event, JSON ("{}" when the client sent nothing)
  std::string client_context;  // X-Amz-Client-Context as sent (base64 JSON), may be empty
  std::chrono::steady_clock::time_point received;  // when emberd had read the request
};

// Milliseconds. On a cold start either restore_ms or boot_ms + init_ms are set.
struct InvokeTiming {
  // Every wait before the handler starts that is not this request's own boot, init or
  // restore: for capacity or memory, for a function's first boot and its snapshot, the
  // hand-off of a ready VM.
  double queue_ms = 0;
  // Restoring a snapshot: the VM's own restore (request to RefreshAck), on this request's
  // path or, from_pool, before it (a ready VM restored ahead; then not part of total_ms).
  double restore_ms = 0;
  bool from_pool = false;
  // Of restore_ms or boot_ms: assigning the VM its egress policy on this path (0 for a VM
  // restored ahead, or for one whose namespace was made ahead with that policy).
  double network_ms = 0;
  double boot_ms = 0;     // booting a VM
  double init_ms = 0;     // the runtime's init phase
  double handler_ms = 0;
  double total_ms = 0;  // from `received` to the response being ready
  bool cold = false;
};

// The result of an invocation that reached the function. Failures of the function itself
// are outcomes, not errors: Lambda answers them with 200 and X-Amz-Function-Error.
struct InvokeOutcome {
  // The handler's response, or for a function error Lambda's error object, e.g.
  // {"errorType":"Sandbox.Timedout","errorMessage":"RequestId: <id> Error: Task timed out
  // after 1.00 seconds"} (also Runtime.ExitError, Runtime.OutOfMemory, ...).
  std::string payload;
  std::string function_error;  // "" or "Unhandled"
  std::string runtime_output;  // the handler's stdout/stderr lines for the log
  double duration_ms = 0;      // the REPORT line's Duration
  uint64_t max_memory_used_mb = 0;
  InvokeTiming timing;
};

// Errors an invoker returns become Lambda API errors. It says "no capacity right now" with
// an Error whose code is EAGAIN (as VmPool::acquire() does): TooManyRequestsException, 429.
// Every other error is a ServiceException, 500, with the error's message. ESTALE says "the
// function's revision was retired before this invocation began": the InvocationRunner runs
// it again on the function as stored now.
enum class InvokeErrorType { kServiceException, kTooManyRequests };
InvokeErrorType invoke_error_type(const Error& error);
// Builds an error of the given type, for invokers.
Error invoke_error(InvokeErrorType type, std::string op, std::string context = {});

using InvokeDone = std::function<void(Result<InvokeOutcome>)>;

// Thread-safe: emberd calls invoke() and invoke_async() from many threads at once.
class Invoker {
 public:
  virtual ~Invoker();
  // Runs one invocation synchronously, bounded by the function's timeout (a timeout is an
  // outcome with Sandbox.Timedout, not an error).
  virtual Result<InvokeOutcome> invoke(const InvokeRequest& request) = 0;
  // Runs one invocation as invoke() does and calls done once with its result: before
  // returning, on this thread, or later on another, for an invoker that waits on its VM
  // without holding the caller's thread. This one calls invoke(). done must not block.
  virtual void invoke_async(InvokeRequest request, InvokeDone done);
  // The function's code or configuration changed, or it was deleted: environments made for
  // an older revision must not serve it again (invocations in flight may finish).
  virtual void retire(const std::string& function_name) = 0;
  // emberd is exiting: stop everything; invocations still running fail soon after.
  virtual void shutdown() = 0;
};

// What emberd's flags give the invoker; it interprets them.
struct InvokerConfig {
  std::string state_dir;           // the invoker may keep its own files under <state_dir>/runtime
  std::string vmm_path;            // ember-vmm (looked up in PATH without a '/')
  std::string kernel;              // guest vmlinux
  std::string rootfs;              // guest root image (erofs)
  std::string initramfs;           // ember-agent as /init
  uint64_t max_vm_memory_mib = 0;  // total guest memory across VMs
  uint32_t standby_vmms = 0;       // ember-vmm --standby processes kept ready for restores
  std::string region;              // for the environment (AWS_REGION)
  std::chrono::seconds init_timeout{30};  // the runtime's init phase (Lambda allows 10 s)
  // Per-VM networking (it must outlive the invoker); null: guests have loopback only.
  net::HostNetwork* network = nullptr;
  net::EgressPolicy egress_default;  // for functions without an Egress of their own
  // Every VMM (booted, restored, standby) jailed by ember-jailer when jail.enabled;
  // base_dir and always_ro are the invoker's (<state_dir>/jail, the guest root image).
  jail::JailOptions jail;
  // For tests: VMMs booted for this function die by seccomp (SIGSYS) as their vCPUs start.
  std::string test_forbidden_syscall_in;
};

// The microVM invoker (host/runtime/vm_invoker.cc). Fails when the configuration cannot
// work (e.g. a missing kernel), so emberd refuses to start with the reason.
Result<std::unique_ptr<Invoker>> make_vm_invoker(const InvokerConfig& config);

}  // namespace ember::host

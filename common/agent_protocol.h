// The host<->agent wire protocol: message types, frame encoding and a streaming decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "common/working_set.h"

namespace ember {

// Frame header, 12 bytes, little endian: magic "EMBR", u16 version, u16 type, u32 payload
// length. The header layout never changes between versions, so a peer can always skip a
// frame it does not understand.
inline constexpr char kAgentMagic[4] = {'E', 'M', 'B', 'R'};
inline constexpr uint16_t kAgentProtocolVersion = 1;
inline constexpr size_t kFrameHeaderSize = 12;
inline constexpr uint32_t kMaxFramePayload = 16u << 20;
// Per-stream output cap the agent enforces whatever the request asks, so that a result with
// both streams full still fits in one frame.
inline constexpr uint64_t kMaxExecOutputCap = 7u << 20;
// Refresh entropy the decoder accepts; the host sends kRefreshEntropyBytes.
inline constexpr size_t kMaxRefreshEntropy = 512;
inline constexpr size_t kRefreshEntropyBytes = 64;
// Prefetch runs a Refresh may carry (16 bytes each on the wire).
inline constexpr uint32_t kMaxRefreshPrefetchRuns = 1u << 16;

// Lambda's synchronous payload limit (6 MiB): the largest Invoke payload the host sends and
// the largest response or error body a runtime may post.
inline constexpr size_t kMaxInvokePayload = 6u << 20;
// Runtime output kept per InitResult / InvokeResult; beyond it a final line says how much
// was dropped.
inline constexpr size_t kMaxRuntimeLogBytes = 1u << 20;

// vsock ports (docs/vmm-interfaces.md).
inline constexpr uint32_t kAgentExecPort = 1024;   // guest listens: exec sessions
inline constexpr uint32_t kAgentReadyPort = 1025;  // host listens: the agent's Ready
inline constexpr uint32_t kHostCid = 2;

enum class MessageType : uint16_t {
  kReady = 1,
  kExecRequest = 2,
  kExecResult = 3,
  kShutdownRequest = 4,
  kShutdownAck = 5,
  kError = 6,
  kRefresh = 7,
  kRefreshAck = 8,
  kInitRuntime = 9,
  kInitResult = 10,
  kInvoke = 11,
  kInvokeResult = 12,
};

// Sent once by the agent on the Ready port when it accepts exec sessions.
struct ReadyMsg {
  std::string agent_version;
  uint64_t agent_start_ns = 0;  // CLOCK_BOOTTIME when the agent's main() began
  uint64_t ready_ns = 0;        // CLOCK_BOOTTIME when Ready was sent
  uint64_t uptime_ns = 0;       // kernel uptime from /proc/uptime at Ready (10 ms steps)
  bool operator==(const ReadyMsg&) const = default;
};

struct ExecRequest {
  std::vector<std::string> argv;  // argv[0] without '/' is looked up in env's PATH
  std::vector<std::string> env;   // "KEY=VALUE"; the whole environment of the process
  std::string cwd;                // empty: "/"
  std::string stdin_data;
  uint32_t timeout_ms = 0;         // 0: no timeout
  uint64_t output_cap = 1u << 20;  // bytes kept per stream; clamped to kMaxExecOutputCap
  bool operator==(const ExecRequest&) const = default;
};

struct ExecResult {
  int32_t exit_code = -1;   // valid when term_signal == 0
  int32_t term_signal = 0;  // signal that killed the process, 0 if it exited
  bool timed_out = false;   // the process group was killed because the timeout expired
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  uint64_t duration_ns = 0;  // from fork to exit
  bool operator==(const ExecResult&) const = default;
};

struct ShutdownRequest {
  bool operator==(const ShutdownRequest&) const = default;
};
struct ShutdownAck {
  bool operator==(const ShutdownAck&) const = default;
};
struct ErrorReply {
  std::string message;
  bool operator==(const ErrorReply&) const = default;
};

// The host's first message after a restore: every clone starts from the same RNG state and
// the clock of snapshot time, so the agent mixes in fresh entropy, reseeds the kernel CRNG
// and sets CLOCK_REALTIME before it answers anything else.
struct Refresh {
  std::string entropy;        // random bytes from the host (at most kMaxRefreshEntropy)
  uint64_t unix_time_ns = 0;  // the host's CLOCK_REALTIME when the message was built
  // The snapshot's working set as guest-physical page runs (common/working_set.h), at most
  // kMaxRefreshPrefetchRuns; may be empty. After its RefreshAck, the agent reads one byte of
  // each page in the background at idle priority, so that KVM maps them before the handler
  // reaches them (on kernels without KVM_PRE_FAULT_MEMORY, only a guest access can).
  std::vector<GuestPageRun> prefetch;
  bool operator==(const Refresh&) const = default;
};
struct RefreshAck {
  bool operator==(const RefreshAck&) const = default;
};

// Starts the function's runtime (once per agent). The agent answers InitResult when the
// runtime first asks for an invocation (GET .../invocation/next: init is done and the runtime
// now waits inside the agent, the moment the host snapshots), posts init/error, exits, or
// init_timeout_ms passes. Bad requests (unknown runtime, a second InitRuntime, a failed
// mount) get an ErrorReply instead.
struct InitRuntime {
  std::string runtime;           // "python3.11" | "nodejs18.x" | "provided" | "provided.al2"
  std::string handler;           // _HANDLER, e.g. "app.handler"
  std::vector<std::string> env;  // "KEY=VALUE": the function's whole Lambda environment
  std::string code_device;       // erofs image mounted read-only at task_root; empty: none
  std::string task_root;         // "/var/task": LAMBDA_TASK_ROOT and the runtime's cwd
  uint32_t init_timeout_ms = 0;  // 0: no limit
  bool operator==(const InitRuntime&) const = default;
};

struct InitResult {
  bool ok = false;
  std::string error_type;         // e.g. "Runtime.ImportModuleError", "Runtime.ExitError"
  std::string error_body;         // Lambda's error JSON {"errorMessage","errorType",...}
  std::string logs;               // the runtime's stdout and stderr during init (capped)
  uint64_t init_duration_ns = 0;  // InitRuntime received -> init done or failed
  bool operator==(const InitResult&) const = default;
};

// One invocation, handed to the runtime blocked in GET .../invocation/next. May arrive on
// any session (after a restore, a new one); the agent runs one invocation at a time.
struct Invoke {
  std::string request_id;         // Lambda-Runtime-Aws-Request-Id
  // The handler's time left as the host sent this. The agent's Lambda-Runtime-Deadline-Ms
  // is its own wall clock at receipt plus this: right even when the guest's clock and the
  // host's disagree.
  uint64_t budget_ms = 0;
  std::string invoked_function_arn;
  std::string trace_id;          // Lambda-Runtime-Trace-Id; empty: header left out
  std::string client_context;    // Lambda-Runtime-Client-Context; empty: left out
  std::string cognito_identity;  // Lambda-Runtime-Cognito-Identity; empty: left out
  std::string payload;           // the event, at most kMaxInvokePayload bytes
  bool operator==(const Invoke&) const = default;
};

struct InvokeResult {
  // How the invocation ended. (Nested, so InvokeResult::Status does not mean ember::Status.)
  enum Status : uint8_t {
    kSuccess = 0,        // the runtime posted .../response
    kFunctionError = 1,  // the runtime posted .../error (or a response over the size limit)
    kRuntimeExit = 2,    // the runtime died before answering
  };
  Status status = kSuccess;
  std::string payload;       // the response body, or the error JSON
  std::string error_type;    // Lambda-Runtime-Function-Error-Type, else the body's errorType;
                             // Runtime.ExitError / Runtime.OutOfMemory for kRuntimeExit
  std::string logs;          // runtime output since the previous result (capped, see above)
  uint64_t duration_ns = 0;  // Invoke received -> response posted (or exit seen)
  uint64_t max_memory_used_bytes = 0;  // runtime peak memory (guest-agent/README.md)
  int32_t exit_code = 0;               // kRuntimeExit: exit status, -1 if a signal killed it
  int32_t term_signal = 0;             // kRuntimeExit: the signal, 0 if it exited
  bool operator==(const InvokeResult&) const = default;
};

using AgentMessage =
    std::variant<ReadyMsg, ExecRequest, ExecResult, ShutdownRequest, ShutdownAck, ErrorReply,
                 Refresh, RefreshAck, InitRuntime, InitResult, Invoke, InvokeResult>;

MessageType message_type(const AgentMessage& message);
const char* message_type_name(MessageType type);

// The whole frame (header + payload). Aborts if the payload would exceed kMaxFramePayload:
// callers bound their inputs (the agent clamps output; the host bounds stdin).
std::string encode_frame(const AgentMessage& message);
// Payload only, for tests and size checks.
std::string encode_payload(const AgentMessage& message);
// Decodes one payload of the given type; rejects truncated fields and trailing bytes.
Result<AgentMessage> decode_payload(MessageType type, std::string_view payload);

// Reassembles frames from a byte stream fed in arbitrary pieces.
class FrameDecoder {
 public:
  void feed(std::string_view bytes);
  void feed(const char* data, size_t size) { feed(std::string_view(data, size)); }

  // The next message; std::nullopt when more bytes are needed. A malformed frame gives an
  // error and is skipped, so the stream goes on with the next frame; after bad magic the
  // stream cannot be resynchronized, in_sync() turns false and every later call fails.
  Result<std::optional<AgentMessage>> next();

  bool in_sync() const { return in_sync_; }
  // Bytes held that are not yet part of a returned message.
  size_t buffered() const { return buffer_.size() - pos_; }

 private:
  std::string buffer_;
  size_t pos_ = 0;     // start of unconsumed data in buffer_
  uint64_t skip_ = 0;  // payload bytes still to drop from a rejected frame
  bool in_sync_ = true;
};

}  // namespace ember

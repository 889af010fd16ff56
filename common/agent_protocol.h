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
  bool operator==(const Refresh&) const = default;
};
struct RefreshAck {
  bool operator==(const RefreshAck&) const = default;
};

using AgentMessage = std::variant<ReadyMsg, ExecRequest, ExecResult, ShutdownRequest, ShutdownAck,
                                  ErrorReply, Refresh, RefreshAck>;

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

// Encoding and decoding of the host<->agent frames: fixed little-endian fields, strings and
// byte blobs as u32 length + bytes, lists as u32 count + items.
#include "common/agent_protocol.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

namespace ember {
namespace {

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void flag(bool v) { u8(v ? 1 : 0); }
  void bytes(std::string_view s) {
    if (s.size() > kMaxFramePayload) std::abort();  // cannot fit in a frame anyway
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void strings(const std::vector<std::string>& list) {
    u32(static_cast<uint32_t>(list.size()));
    for (const auto& s : list) bytes(s);
  }
  std::string take() { return std::move(out_); }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

uint64_t load_le(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

// Reads fields from a payload; the first failure sticks and names the field.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  uint8_t u8(const char* field) { return static_cast<uint8_t>(le(field, 1)); }
  uint32_t u32(const char* field) { return static_cast<uint32_t>(le(field, 4)); }
  uint64_t u64(const char* field) { return le(field, 8); }
  int32_t i32(const char* field) { return static_cast<int32_t>(u32(field)); }
  bool flag(const char* field) {
    uint8_t v = u8(field);
    if (v > 1) fail(field, "flag is " + std::to_string(v) + ", not 0 or 1");
    return v == 1;
  }
  // A u8 that must be at most `last`.
  uint8_t enumerator(const char* field, uint8_t last) {
    uint8_t v = u8(field);
    if (v > last) fail(field, "value " + std::to_string(v) + " is out of range");
    return v;
  }
  // A u32 length and that many bytes; more than max_size is refused.
  std::string bytes(const char* field, size_t max_size = kMaxFramePayload) {
    uint32_t n = u32(field);
    if (!error_.empty()) return {};
    if (n > max_size) {
      fail(field, "length " + std::to_string(n) + " exceeds the limit of " +
                      std::to_string(max_size) + " bytes");
      return {};
    }
    if (n > in_.size() - pos_) {
      fail(field, "length " + std::to_string(n) + " exceeds the " +
                      std::to_string(in_.size() - pos_) + " bytes left");
      return {};
    }
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::vector<std::string> strings(const char* field) {
    uint32_t count = u32(field);
    std::vector<std::string> out;
    // Each item takes at least 4 bytes, which bounds count before any allocation.
    if (error_.empty() && count > (in_.size() - pos_) / 4) {
      fail(field, "count " + std::to_string(count) + " exceeds the bytes left");
    }
    for (uint32_t i = 0; i < count && error_.empty(); ++i) out.push_back(bytes(field));
    return out;
  }

  // A u32 count (at most max) and that many (u64 first_page, u64 pages) runs.
  std::vector<GuestPageRun> page_runs(const char* field, uint32_t max) {
    uint32_t count = u32(field);
    std::vector<GuestPageRun> out;
    if (error_.empty() && count > max) {
      fail(field, "count " + std::to_string(count) + " exceeds the limit of " + std::to_string(max));
    }
    if (error_.empty() && count > (in_.size() - pos_) / 16) {
      fail(field, "count " + std::to_string(count) + " exceeds the bytes left");
    }
    for (uint32_t i = 0; i < count && error_.empty(); ++i) {
      GuestPageRun run;
      run.first_page = u64(field);
      run.pages = u64(field);
      out.push_back(run);
    }
    return out;
  }

  // Nothing left to read (for a trailing optional field).
  bool at_end() const { return error_.empty() && pos_ == in_.size(); }

  // Ok when every field was read and nothing is left over.
  Status finish(MessageType type) {
    if (error_.empty() && pos_ != in_.size()) {
      error_ = std::to_string(in_.size() - pos_) + " trailing bytes";
    }
    if (error_.empty()) return {};
    return make_error(std::string("decode ") + message_type_name(type) + " payload", error_);
  }

 private:
  uint64_t le(const char* field, int n) {
    if (!error_.empty()) return 0;
    if (in_.size() - pos_ < static_cast<size_t>(n)) {
      fail(field, "truncated");
      return 0;
    }
    uint64_t v = load_le(in_.data() + pos_, n);
    pos_ += n;
    return v;
  }
  void fail(const char* field, const std::string& why) {
    if (error_.empty()) error_ = std::string("field '") + field + "': " + why;
  }

  std::string_view in_;
  size_t pos_ = 0;
  std::string error_;
};

struct PayloadWriter {
  Writer& w;
  void operator()(const ReadyMsg& m) {
    w.bytes(m.agent_version);
    w.u64(m.agent_start_ns);
    w.u64(m.ready_ns);
    w.u64(m.uptime_ns);
  }
  void operator()(const ExecRequest& m) {
    w.strings(m.argv);
    w.strings(m.env);
    w.bytes(m.cwd);
    w.bytes(m.stdin_data);
    w.u32(m.timeout_ms);
    w.u64(m.output_cap);
  }
  void operator()(const ExecResult& m) {
    w.i32(m.exit_code);
    w.i32(m.term_signal);
    w.flag(m.timed_out);
    w.bytes(m.stdout_data);
    w.bytes(m.stderr_data);
    w.flag(m.stdout_truncated);
    w.flag(m.stderr_truncated);
    w.u64(m.duration_ns);
  }
  void operator()(const ShutdownRequest&) {}
  void operator()(const ShutdownAck&) {}
  void operator()(const ErrorReply& m) { w.bytes(m.message); }
  void operator()(const Refresh& m) {
    w.bytes(m.entropy);
    w.u64(m.unix_time_ns);
    // Omitted when empty: a Refresh without it is what agents before it understand.
    if (m.prefetch.empty()) return;
    if (m.prefetch.size() > kMaxRefreshPrefetchRuns) std::abort();  // the sender's to trim
    w.u32(static_cast<uint32_t>(m.prefetch.size()));
    for (const GuestPageRun& run : m.prefetch) {
      w.u64(run.first_page);
      w.u64(run.pages);
    }
  }
  void operator()(const RefreshAck&) {}
  void operator()(const InitRuntime& m) {
    w.bytes(m.runtime);
    w.bytes(m.handler);
    w.strings(m.env);
    w.bytes(m.code_device);
    w.bytes(m.task_root);
    w.u32(m.init_timeout_ms);
  }
  void operator()(const InitResult& m) {
    w.flag(m.ok);
    w.bytes(m.error_type);
    w.bytes(m.error_body);
    w.bytes(m.logs);
    w.u64(m.init_duration_ns);
  }
  void operator()(const Invoke& m) {
    w.bytes(m.request_id);
    w.u64(m.budget_ms);
    w.bytes(m.invoked_function_arn);
    w.bytes(m.trace_id);
    w.bytes(m.client_context);
    w.bytes(m.cognito_identity);
    w.bytes(m.payload);
  }
  void operator()(const InvokeResult& m) {
    w.u8(m.status);
    w.bytes(m.payload);
    w.bytes(m.error_type);
    w.bytes(m.logs);
    w.u64(m.duration_ns);
    w.u64(m.max_memory_used_bytes);
    w.i32(m.exit_code);
    w.i32(m.term_signal);
  }
};

std::string hex32(const char* p) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(load_le(p, 4)));
  return buf;
}

}  // namespace

MessageType message_type(const AgentMessage& message) {
  static constexpr MessageType kTypes[] = {
      MessageType::kReady,           MessageType::kExecRequest, MessageType::kExecResult,
      MessageType::kShutdownRequest, MessageType::kShutdownAck, MessageType::kError,
      MessageType::kRefresh,         MessageType::kRefreshAck,  MessageType::kInitRuntime,
      MessageType::kInitResult,      MessageType::kInvoke,      MessageType::kInvokeResult};
  static_assert(std::size(kTypes) == std::variant_size_v<AgentMessage>);
  return kTypes[message.index()];
}

const char* message_type_name(MessageType type) {
  switch (type) {
    case MessageType::kReady:
      return "Ready";
    case MessageType::kExecRequest:
      return "ExecRequest";
    case MessageType::kExecResult:
      return "ExecResult";
    case MessageType::kShutdownRequest:
      return "ShutdownRequest";
    case MessageType::kShutdownAck:
      return "ShutdownAck";
    case MessageType::kError:
      return "Error";
    case MessageType::kRefresh:
      return "Refresh";
    case MessageType::kRefreshAck:
      return "RefreshAck";
    case MessageType::kInitRuntime:
      return "InitRuntime";
    case MessageType::kInitResult:
      return "InitResult";
    case MessageType::kInvoke:
      return "Invoke";
    case MessageType::kInvokeResult:
      return "InvokeResult";
  }
  return "unknown";
}

std::string encode_payload(const AgentMessage& message) {
  Writer w;
  std::visit(PayloadWriter{w}, message);
  return w.take();
}

std::string encode_frame(const AgentMessage& message) {
  std::string payload = encode_payload(message);
  if (payload.size() > kMaxFramePayload) std::abort();  // see the contract in the header
  Writer w;
  w.u32(static_cast<uint32_t>(load_le(kAgentMagic, 4)));
  w.u16(kAgentProtocolVersion);
  w.u16(static_cast<uint16_t>(message_type(message)));
  w.u32(static_cast<uint32_t>(payload.size()));
  std::string frame = w.take();
  frame += payload;
  return frame;
}

Result<AgentMessage> decode_payload(MessageType type, std::string_view payload) {
  Reader r(payload);
  AgentMessage out;
  switch (type) {
    case MessageType::kReady: {
      ReadyMsg m;
      m.agent_version = r.bytes("agent_version");
      m.agent_start_ns = r.u64("agent_start_ns");
      m.ready_ns = r.u64("ready_ns");
      m.uptime_ns = r.u64("uptime_ns");
      out = std::move(m);
      break;
    }
    case MessageType::kExecRequest: {
      ExecRequest m;
      m.argv = r.strings("argv");
      m.env = r.strings("env");
      m.cwd = r.bytes("cwd");
      m.stdin_data = r.bytes("stdin");
      m.timeout_ms = r.u32("timeout_ms");
      m.output_cap = r.u64("output_cap");
      out = std::move(m);
      break;
    }
    case MessageType::kExecResult: {
      ExecResult m;
      m.exit_code = r.i32("exit_code");
      m.term_signal = r.i32("term_signal");
      m.timed_out = r.flag("timed_out");
      m.stdout_data = r.bytes("stdout");
      m.stderr_data = r.bytes("stderr");
      m.stdout_truncated = r.flag("stdout_truncated");
      m.stderr_truncated = r.flag("stderr_truncated");
      m.duration_ns = r.u64("duration_ns");
      out = std::move(m);
      break;
    }
    case MessageType::kShutdownRequest:
      out = ShutdownRequest{};
      break;
    case MessageType::kShutdownAck:
      out = ShutdownAck{};
      break;
    case MessageType::kError:
      out = ErrorReply{r.bytes("message")};
      break;
    case MessageType::kRefresh: {
      Refresh m;
      m.entropy = r.bytes("entropy", kMaxRefreshEntropy);
      m.unix_time_ns = r.u64("unix_time_ns");
      if (!r.at_end()) m.prefetch = r.page_runs("prefetch", kMaxRefreshPrefetchRuns);
      out = std::move(m);
      break;
    }
    case MessageType::kRefreshAck:
      out = RefreshAck{};
      break;
    case MessageType::kInitRuntime: {
      InitRuntime m;
      m.runtime = r.bytes("runtime");
      m.handler = r.bytes("handler");
      m.env = r.strings("env");
      m.code_device = r.bytes("code_device");
      m.task_root = r.bytes("task_root");
      m.init_timeout_ms = r.u32("init_timeout_ms");
      out = std::move(m);
      break;
    }
    case MessageType::kInitResult: {
      InitResult m;
      m.ok = r.flag("ok");
      m.error_type = r.bytes("error_type");
      m.error_body = r.bytes("error_body");
      m.logs = r.bytes("logs");
      m.init_duration_ns = r.u64("init_duration_ns");
      out = std::move(m);
      break;
    }
    case MessageType::kInvoke: {
      Invoke m;
      m.request_id = r.bytes("request_id");
      m.budget_ms = r.u64("budget_ms");
      m.invoked_function_arn = r.bytes("invoked_function_arn");
      m.trace_id = r.bytes("trace_id");
      m.client_context = r.bytes("client_context");
      m.cognito_identity = r.bytes("cognito_identity");
      m.payload = r.bytes("payload");
      out = std::move(m);
      break;
    }
    case MessageType::kInvokeResult: {
      InvokeResult m;
      m.status =
          static_cast<InvokeResult::Status>(r.enumerator("status", InvokeResult::kRuntimeExit));
      m.payload = r.bytes("payload");
      m.error_type = r.bytes("error_type");
      m.logs = r.bytes("logs");
      m.duration_ns = r.u64("duration_ns");
      m.max_memory_used_bytes = r.u64("max_memory_used_bytes");
      m.exit_code = r.i32("exit_code");
      m.term_signal = r.i32("term_signal");
      out = std::move(m);
      break;
    }
    default:
      return make_error("decode agent frame",
                        "unknown message type " + std::to_string(static_cast<int>(type)));
  }
  EMBER_CHECK(r.finish(type));
  return out;
}

void FrameDecoder::feed(std::string_view bytes) {
  if (!in_sync_) return;
  if (skip_ > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(skip_, bytes.size()));
    skip_ -= n;
    bytes.remove_prefix(n);
  }
  // Compact before growing so a long-lived stream does not keep consumed bytes around.
  if (pos_ > 0 && pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  } else if (pos_ > (1u << 20) && pos_ > buffer_.size() / 2) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(bytes);
}

Result<std::optional<AgentMessage>> FrameDecoder::next() {
  if (!in_sync_) return make_error("decode agent frame", "stream is out of sync after bad magic");
  if (buffered() < kFrameHeaderSize) return std::optional<AgentMessage>();
  const char* h = buffer_.data() + pos_;
  if (std::memcmp(h, kAgentMagic, 4) != 0) {
    in_sync_ = false;
    buffer_.clear();
    pos_ = 0;
    return make_error("decode agent frame", "bad magic " + hex32(h));
  }
  auto version = static_cast<uint16_t>(load_le(h + 4, 2));
  auto type = static_cast<MessageType>(load_le(h + 6, 2));
  auto length = static_cast<uint32_t>(load_le(h + 8, 4));

  std::string problem;
  if (version != kAgentProtocolVersion) {
    problem = "protocol version " + std::to_string(version) + ", expected " +
              std::to_string(kAgentProtocolVersion);
  } else if (length > kMaxFramePayload) {
    problem = "payload length " + std::to_string(length) + " exceeds the maximum " +
              std::to_string(kMaxFramePayload);
  } else if (std::string_view(message_type_name(type)) == "unknown") {
    problem = "unknown message type " + std::to_string(static_cast<int>(type));
  }
  if (!problem.empty()) {
    // Drop the header and as much of the payload as is here; the rest is skipped in feed().
    pos_ += kFrameHeaderSize;
    size_t here = static_cast<size_t>(std::min<uint64_t>(length, buffered()));
    pos_ += here;
    skip_ = length - here;
    return make_error("decode agent frame", problem);
  }

  if (buffered() - kFrameHeaderSize < length) return std::optional<AgentMessage>();
  std::string_view payload(h + kFrameHeaderSize, length);
  pos_ += kFrameHeaderSize + length;
  EMBER_TRY(AgentMessage message, decode_payload(type, payload));
  return std::optional<AgentMessage>(std::move(message));
}

}  // namespace ember

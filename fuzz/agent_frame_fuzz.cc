// agent_frame: the host<->agent frame codec, every message type either side sends, fed as
// a byte stream in pieces; every decoded message must survive re-encoding unchanged.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/agent_protocol.h"
#include "fuzz/fuzz_support.h"

namespace ember::fuzz {
namespace {

// Decodes `stream` fed `piece` bytes at a time; returns the messages decoded.
std::vector<AgentMessage> decode_stream(std::string_view stream, size_t piece) {
  FrameDecoder decoder;
  std::vector<AgentMessage> out;
  size_t errors = 0;
  for (size_t at = 0; at < stream.size() || decoder.buffered() > 0;) {
    const size_t n = std::min(piece, stream.size() - at);
    decoder.feed(stream.substr(at, n));
    at += n;
    for (;;) {
      auto next = decoder.next();
      if (!next.ok()) {
        ++errors;
        if (!decoder.in_sync()) return out;
        continue;
      }
      if (!next->has_value()) break;
      out.push_back(std::move(**next));
    }
    if (n == 0) break;  // everything fed; what is buffered is an incomplete frame
  }
  EMBER_FUZZ_ASSERT(errors + out.size() <= stream.size() / kFrameHeaderSize + 1);
  return out;
}

void check_round_trip(const AgentMessage& message) {
  const std::string frame = encode_frame(message);
  EMBER_FUZZ_ASSERT(frame.size() == kFrameHeaderSize + encode_payload(message).size());
  auto again = decode_payload(message_type(message), frame.substr(kFrameHeaderSize));
  EMBER_FUZZ_ASSERT(again.ok());
  EMBER_FUZZ_ASSERT(*again == message);
  FrameDecoder decoder;
  decoder.feed(frame);
  auto next = decoder.next();
  EMBER_FUZZ_ASSERT(next.ok() && next->has_value() && **next == message);
  EMBER_FUZZ_ASSERT(decoder.buffered() == 0);
}

void write_seeds(const std::string& dir) {
  // The input's first byte sets the feed piece size; the rest is the stream.
  auto seed = [&](const std::string& name, std::initializer_list<AgentMessage> messages,
                  char piece = 0) {
    std::string stream(1, piece);
    for (const AgentMessage& m : messages) stream += encode_frame(m);
    write_seed(dir, name, stream);
  };
  seed("ready", {ReadyMsg{"ember-agent 1.0", 1000, 2000, 30000000}});
  seed("exec", {ExecRequest{{"/bin/sh", "-c", "echo hi"}, {"PATH=/usr/bin", "HOME=/"}, "/tmp",
                            "stdin bytes", 5000, 4096},
                ExecResult{0, 0, false, "hi\n", "", false, false, 1234567}}, 5);
  seed("shutdown_error", {ShutdownRequest{}, ShutdownAck{}, ErrorReply{"no such runtime"}}, 1);
  seed("refresh", {Refresh{std::string(kRefreshEntropyBytes, '\x42'), 1700000000000000000ull},
                   RefreshAck{}}, 13);
  seed("init", {InitRuntime{"python3.11", "app.handler", {"AWS_REGION=us-east-1"}, "/dev/vdb",
                            "/var/task", 10000},
                InitResult{false, "Runtime.ImportModuleError",
                           "{\"errorMessage\":\"no module\",\"errorType\":\"x\"}", "log line\n",
                           42}});
  seed("invoke", {Invoke{"8f5e-request-id", 1700000000000, "arn:aws:lambda:us-east-1:1:function:f",
                         "Root=1-abc", "{}", "", "{\"key\":\"value\"}"},
                  InvokeResult{InvokeResult::kFunctionError, "{\"errorType\":\"E\"}", "E",
                               "START\nEND\n", 99, 50 << 20, 0, 0}}, 7);
  seed("runtime_exit", {InvokeResult{InvokeResult::kRuntimeExit, "", "Runtime.ExitError", "", 1,
                                     2, -1, 9}});
}

}  // namespace
}  // namespace ember::fuzz

EMBER_FUZZ_SEEDS(ember::fuzz::write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  using namespace ember::fuzz;
  if (size < 1) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Piece size 0 feeds the whole stream at once.
  const size_t piece = data[0] == 0 ? stream.size() + 1 : data[0];
  const std::vector<AgentMessage> messages = decode_stream(stream, piece);
  for (const AgentMessage& m : messages) check_round_trip(m);
  // The pieces a stream arrives in never change what it decodes to.
  if (piece <= stream.size()) EMBER_FUZZ_ASSERT(decode_stream(stream, stream.size() + 1) == messages);
  // Each payload parser on its own, on the stream's bytes after a type byte.
  if (stream.size() >= 1) {
    const auto type = static_cast<MessageType>(static_cast<uint8_t>(stream[0]) % 13);
    auto one = decode_payload(type, stream.substr(1));
    if (one.ok()) {
      EMBER_FUZZ_ASSERT(message_type(*one) == type);
      check_round_trip(*one);
    }
  }
  return 0;
}

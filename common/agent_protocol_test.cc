// Tests for the agent protocol: round trips, partial input and every kind of rejected frame.
#include "common/agent_protocol.h"

#include <gtest/gtest.h>

namespace ember {
namespace {

ExecRequest sample_request() {
  ExecRequest r;
  r.argv = {"/bin/sh", "-c", "echo hi"};
  r.env = {"PATH=/usr/bin:/bin", "X="};
  r.cwd = "/tmp";
  r.stdin_data = std::string("in\0put", 6);
  r.timeout_ms = 1500;
  r.output_cap = 4096;
  return r;
}

ExecResult sample_result() {
  ExecResult r;
  r.exit_code = 3;
  r.term_signal = 0;
  r.timed_out = true;
  r.stdout_data = "out";
  r.stderr_data = std::string(1000, 'e');
  r.stdout_truncated = false;
  r.stderr_truncated = true;
  r.duration_ns = 123456789012ull;
  return r;
}

InitRuntime sample_init() {
  InitRuntime r;
  r.runtime = "python3.11";
  r.handler = "app.handler";
  r.env = {"AWS_LAMBDA_FUNCTION_NAME=f", "EMPTY="};
  r.code_device = "/dev/vdb";
  r.task_root = "/var/task";
  r.init_timeout_ms = 10'000;
  return r;
}

InitResult sample_init_result() {
  InitResult r;
  r.ok = false;
  r.error_type = "Runtime.ImportModuleError";
  r.error_body = R"({"errorMessage":"Unable to import module 'app'","errorType":"x"})";
  r.logs = "line 1\nline 2\n";
  r.init_duration_ns = 987654321;
  return r;
}

Invoke sample_invoke() {
  Invoke r;
  r.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
  r.budget_ms = 3000;
  r.invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
  r.trace_id = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";
  r.client_context = "{}";
  r.cognito_identity = "";
  r.payload = std::string("{\"k\":\"v\0\"}", 10);
  return r;
}

InvokeResult sample_invoke_result() {
  InvokeResult r;
  r.status = InvokeResult::kRuntimeExit;
  r.payload = R"({"errorType":"Runtime.ExitError"})";
  r.error_type = "Runtime.ExitError";
  r.logs = "bye\n";
  r.duration_ns = 5'000'000;
  r.max_memory_used_bytes = 40u << 20;
  r.exit_code = -1;
  r.term_signal = 9;
  return r;
}

std::vector<AgentMessage> all_messages() {
  return {ReadyMsg{"1.0", 10, 20, 30},
          sample_request(),
          sample_result(),
          ShutdownRequest{},
          ShutdownAck{},
          ErrorReply{"boom"},
          Refresh{std::string(kRefreshEntropyBytes, '\x5a'), 1'700'000'000'123'456'789ull},
          RefreshAck{},
          sample_init(),
          sample_init_result(),
          sample_invoke(),
          sample_invoke_result()};
}

// Decodes everything in `bytes`, expecting exactly one message.
AgentMessage decode_one(const std::string& bytes) {
  FrameDecoder d;
  d.feed(bytes);
  auto m = d.next();
  EXPECT_TRUE(m.ok()) << m.error().message();
  EXPECT_TRUE(m->has_value());
  EXPECT_EQ(d.buffered(), 0u);
  return std::move(**m);
}

std::string header(uint16_t version, uint16_t type, uint32_t length, const char* magic = "EMBR") {
  std::string h(magic, 4);
  h += static_cast<char>(version & 0xff);
  h += static_cast<char>(version >> 8);
  h += static_cast<char>(type & 0xff);
  h += static_cast<char>(type >> 8);
  for (int i = 0; i < 4; ++i) h += static_cast<char>((length >> (8 * i)) & 0xff);
  return h;
}

TEST(AgentProtocol, EveryMessageRoundTrips) {
  for (const AgentMessage& m : all_messages()) {
    std::string frame = encode_frame(m);
    ASSERT_GE(frame.size(), kFrameHeaderSize);
    EXPECT_EQ(frame.substr(0, 4), "EMBR");
    EXPECT_EQ(decode_one(frame), m) << message_type_name(message_type(m));
  }
}

TEST(AgentProtocol, HeaderLayoutIsLittleEndian) {
  std::string frame = encode_frame(ErrorReply{"abc"});
  EXPECT_EQ(frame.substr(0, kFrameHeaderSize), header(1, 6, 7));
  EXPECT_EQ(frame.substr(kFrameHeaderSize), std::string("\x03\0\0\0abc", 7));
}

TEST(AgentProtocol, PartialInputAsksForMoreBytes) {
  std::string stream = encode_frame(sample_request()) + encode_frame(ShutdownRequest{});
  FrameDecoder d;
  std::vector<AgentMessage> got;
  for (char c : stream) {
    d.feed(&c, 1);
    auto m = d.next();
    ASSERT_TRUE(m.ok()) << m.error().message();
    if (m->has_value()) got.push_back(std::move(**m));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], AgentMessage(sample_request()));
  EXPECT_EQ(got[1], AgentMessage(ShutdownRequest{}));
  auto none = d.next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(AgentProtocol, BadMagicBreaksTheStream) {
  FrameDecoder d;
  d.feed(header(1, 4, 0, "XMBR"));
  auto m = d.next();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("bad magic"), std::string::npos);
  EXPECT_FALSE(d.in_sync());
  d.feed(encode_frame(ShutdownRequest{}));
  EXPECT_FALSE(d.next().ok());
}

TEST(AgentProtocol, WrongVersionIsSkipped) {
  FrameDecoder d;
  d.feed(header(2, 4, 3) + "xyz" + encode_frame(ShutdownAck{}));
  auto bad = d.next();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("protocol version 2"), std::string::npos);
  EXPECT_TRUE(d.in_sync());
  auto good = d.next();
  ASSERT_TRUE(good.ok() && good->has_value());
  EXPECT_EQ(**good, AgentMessage(ShutdownAck{}));
}

TEST(AgentProtocol, UnknownTypeIsSkipped) {
  FrameDecoder d;
  d.feed(header(1, 99, 2) + "zz");
  auto bad = d.next();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("unknown message type 99"), std::string::npos);
  d.feed(encode_frame(ErrorReply{"x"}));
  auto good = d.next();
  ASSERT_TRUE(good.ok() && good->has_value());
  EXPECT_TRUE(std::holds_alternative<ErrorReply>(**good));
}

TEST(AgentProtocol, OversizedLengthIsRejectedBeforeThePayloadArrives) {
  FrameDecoder d;
  const uint32_t length = kMaxFramePayload + 1;
  d.feed(header(1, 2, length));
  auto bad = d.next();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("exceeds the maximum"), std::string::npos);
  // The oversized payload is dropped as it streams in, then decoding resumes.
  std::string junk(1 << 20, 'j');
  for (uint32_t sent = 0; sent < length; sent += junk.size()) {
    d.feed(std::string_view(junk).substr(0, std::min<size_t>(junk.size(), length - sent)));
    auto none = d.next();
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
  }
  EXPECT_EQ(d.buffered(), 0u);
  d.feed(encode_frame(ShutdownRequest{}));
  auto good = d.next();
  ASSERT_TRUE(good.ok() && good->has_value());
}

TEST(AgentProtocol, TruncatedFieldsAreRejectedByName) {
  std::string payload = encode_payload(sample_request());
  // Cut inside the cwd string and inside the trailing output_cap.
  for (size_t cut : {size_t{40}, payload.size() - 3}) {
    auto m = decode_payload(MessageType::kExecRequest, std::string_view(payload).substr(0, cut));
    ASSERT_FALSE(m.ok()) << cut;
    EXPECT_NE(m.error().message().find("ExecRequest"), std::string::npos);
    EXPECT_NE(m.error().message().find("field '"), std::string::npos) << m.error().message();
  }
  // A string length that points past the end.
  std::string lying("\xff\xff\0\0abc", 7);
  auto m = decode_payload(MessageType::kError, lying);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("field 'message': length 65535 exceeds"), std::string::npos);
}

TEST(AgentProtocol, HugeListCountDoesNotAllocate) {
  std::string payload = "\xff\xff\xff\x7f";  // argv count 2^31-1 with nothing after it
  auto m = decode_payload(MessageType::kExecRequest, payload);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("count"), std::string::npos);
}

TEST(AgentProtocol, TrailingBytesAndBadFlagsAreRejected) {
  auto trailing = decode_payload(MessageType::kShutdownRequest, "x");
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.error().message().find("trailing"), std::string::npos);

  std::string payload = encode_payload(sample_result());
  payload[8] = 7;  // timed_out flag
  auto bad_flag = decode_payload(MessageType::kExecResult, payload);
  ASSERT_FALSE(bad_flag.ok());
  EXPECT_NE(bad_flag.error().message().find("timed_out"), std::string::npos);
}

TEST(AgentProtocol, MalformedPayloadIsSkippedAndTheStreamContinues) {
  FrameDecoder d;
  d.feed(header(1, static_cast<uint16_t>(MessageType::kExecRequest), 2) + "ab");
  d.feed(encode_frame(ShutdownRequest{}));
  EXPECT_FALSE(d.next().ok());
  EXPECT_TRUE(d.in_sync());
  auto good = d.next();
  ASSERT_TRUE(good.ok() && good->has_value());
  EXPECT_EQ(**good, AgentMessage(ShutdownRequest{}));
}

TEST(AgentProtocol, RefreshLayoutAndEntropyLimit) {
  Refresh r{std::string("\x01\x02\x03", 3), 0x0102030405060708ull};
  EXPECT_EQ(encode_frame(r).substr(0, kFrameHeaderSize), header(1, 7, 4 + 3 + 8));
  EXPECT_EQ(encode_payload(r),
            std::string("\x03\0\0\0\x01\x02\x03\x08\x07\x06\x05\x04\x03\x02\x01", 15));
  EXPECT_EQ(encode_frame(RefreshAck{}), header(1, 8, 0));

  r.entropy.assign(kMaxRefreshEntropy, 'e');
  EXPECT_EQ(decode_one(encode_frame(r)), AgentMessage(r));
  r.entropy.push_back('e');
  auto too_much = decode_payload(MessageType::kRefresh, encode_payload(r));
  ASSERT_FALSE(too_much.ok());
  EXPECT_NE(too_much.error().message().find("field 'entropy': length 513 exceeds the limit"),
            std::string::npos)
      << too_much.error().message();
  auto truncated = decode_payload(MessageType::kRefresh, std::string("\x00\0\0\0\x01", 5));
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error().message().find("unix_time_ns"), std::string::npos);
  EXPECT_FALSE(decode_payload(MessageType::kRefreshAck, "x").ok());
}

TEST(AgentProtocol, RefreshCarriesPrefetchRunsOnlyWhenThereAreAny) {
  Refresh r{std::string("\x01", 1), 5};
  const std::string without = encode_payload(r);
  EXPECT_EQ(without.size(), 4u + 1 + 8);  // what agents before the field decode
  r.prefetch = {{0x10, 3}, {0x100000, 1}};
  const std::string with = encode_payload(r);
  EXPECT_EQ(with.substr(0, without.size()), without);
  EXPECT_EQ(with.substr(without.size()),
            std::string("\x02\0\0\0"
                        "\x10\0\0\0\0\0\0\0\x03\0\0\0\0\0\0\0"
                        "\0\0\x10\0\0\0\0\0\x01\0\0\0\0\0\0\0",
                        4 + 32));
  EXPECT_EQ(decode_one(encode_frame(r)), AgentMessage(r));

  // A count beyond the limit, or beyond the bytes sent, is refused before any allocation.
  std::string huge = without + std::string("\x01\0\x01\0", 4);  // 65537 runs
  auto over = decode_payload(MessageType::kRefresh, huge);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message().find("field 'prefetch': count 65537 exceeds the limit"),
            std::string::npos)
      << over.error().message();
  auto short_runs = decode_payload(MessageType::kRefresh, with.substr(0, with.size() - 1));
  ASSERT_FALSE(short_runs.ok());
  EXPECT_NE(short_runs.error().message().find("exceeds the bytes left"), std::string::npos)
      << short_runs.error().message();
}

TEST(AgentProtocol, LargePayloadRoundTrips) {
  ExecResult r = sample_result();
  r.stdout_data.assign(kMaxExecOutputCap, 'o');
  r.stderr_data.assign(kMaxExecOutputCap, 'e');
  std::string frame = encode_frame(r);
  EXPECT_LE(frame.size() - kFrameHeaderSize, kMaxFramePayload);
  EXPECT_EQ(decode_one(frame), AgentMessage(r));
}

TEST(AgentProtocol, RuntimeMessagesHaveTheirNumbers) {
  EXPECT_EQ(encode_frame(sample_init()).substr(6, 2), std::string("\x09\x00", 2));
  EXPECT_EQ(encode_frame(InitResult{}).substr(6, 2), std::string("\x0a\x00", 2));
  EXPECT_EQ(encode_frame(Invoke{}).substr(6, 2), std::string("\x0b\x00", 2));
  EXPECT_EQ(encode_frame(InvokeResult{}).substr(6, 2), std::string("\x0c\x00", 2));
  EXPECT_STREQ(message_type_name(MessageType::kInvokeResult), "InvokeResult");
  // InvokeResult opens with its status byte.
  EXPECT_EQ(encode_payload(sample_invoke_result())[0], '\x02');
}

TEST(AgentProtocol, RuntimeMessagesRejectTruncationByFieldName) {
  struct Case {
    MessageType type;
    std::string payload;
    const char* field;  // the field the cut lands in
  };
  std::string init = encode_payload(sample_init());
  std::string init_result = encode_payload(sample_init_result());
  std::string invoke = encode_payload(sample_invoke());
  std::string invoke_result = encode_payload(sample_invoke_result());
  const Case cases[] = {
      {MessageType::kInitRuntime, init.substr(0, init.size() - 2), "init_timeout_ms"},
      {MessageType::kInitRuntime, init.substr(0, 6), "runtime"},
      {MessageType::kInitResult, init_result.substr(0, init_result.size() - 1), "init_duration_ns"},
      {MessageType::kInvoke, invoke.substr(0, invoke.size() - 3), "payload"},
      {MessageType::kInvoke, invoke.substr(0, 4 + 36 + 5), "budget_ms"},
      {MessageType::kInvokeResult, invoke_result.substr(0, invoke_result.size() - 4),
       "term_signal"},
      {MessageType::kInvokeResult, "", "status"},
  };
  for (const Case& c : cases) {
    auto m = decode_payload(c.type, c.payload);
    ASSERT_FALSE(m.ok()) << c.field;
    EXPECT_NE(m.error().message().find(std::string("field '") + c.field + "'"), std::string::npos)
        << m.error().message();
    EXPECT_NE(m.error().message().find(message_type_name(c.type)), std::string::npos);
  }
  auto trailing = decode_payload(MessageType::kInvoke, invoke + "x");
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.error().message().find("1 trailing bytes"), std::string::npos);
}

TEST(AgentProtocol, InvokeResultStatusOutOfRangeIsRejected) {
  std::string payload = encode_payload(sample_invoke_result());
  payload[0] = 3;
  auto m = decode_payload(MessageType::kInvokeResult, payload);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("field 'status': value 3 is out of range"), std::string::npos)
      << m.error().message();
  payload[0] = 1;
  auto ok = decode_payload(MessageType::kInvokeResult, payload);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(std::get<InvokeResult>(*ok).status, InvokeResult::kFunctionError);

  std::string init_result = encode_payload(sample_init_result());
  init_result[0] = 2;  // the ok flag
  EXPECT_FALSE(decode_payload(MessageType::kInitResult, init_result).ok());
}

TEST(AgentProtocol, SixMegabytePayloadsWithFullLogsFitAFrame) {
  Invoke invoke = sample_invoke();
  invoke.payload.assign(kMaxInvokePayload, 'p');
  std::string frame = encode_frame(invoke);
  EXPECT_LE(frame.size() - kFrameHeaderSize, kMaxFramePayload);
  EXPECT_EQ(decode_one(frame), AgentMessage(invoke));

  InvokeResult result = sample_invoke_result();
  result.payload.assign(kMaxInvokePayload + 100, 'r');
  result.logs.assign(kMaxRuntimeLogBytes + 200, 'l');
  frame = encode_frame(result);
  EXPECT_LE(frame.size() - kFrameHeaderSize, kMaxFramePayload);
  // Fed in uneven pieces, as a socket delivers it.
  FrameDecoder d;
  std::optional<AgentMessage> got;
  for (size_t off = 0; off < frame.size(); off += 65'521) {
    d.feed(std::string_view(frame).substr(off, 65'521));
    auto m = d.next();
    ASSERT_TRUE(m.ok()) << m.error().message();
    if (m->has_value()) got = std::move(**m);
  }
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, AgentMessage(result));
}

}  // namespace
}  // namespace ember

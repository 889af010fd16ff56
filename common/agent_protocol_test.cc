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

std::vector<AgentMessage> all_messages() {
  return {ReadyMsg{"1.0", 10, 20, 30},
          sample_request(),
          sample_result(),
          ShutdownRequest{},
          ShutdownAck{},
          ErrorReply{"boom"},
          Refresh{std::string(kRefreshEntropyBytes, '\x5a'), 1'700'000'000'123'456'789ull},
          RefreshAck{}};
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

TEST(AgentProtocol, LargePayloadRoundTrips) {
  ExecResult r = sample_result();
  r.stdout_data.assign(kMaxExecOutputCap, 'o');
  r.stderr_data.assign(kMaxExecOutputCap, 'e');
  std::string frame = encode_frame(r);
  EXPECT_LE(frame.size() - kFrameHeaderSize, kMaxFramePayload);
  EXPECT_EQ(decode_one(frame), AgentMessage(r));
}

}  // namespace
}  // namespace ember

// Tests for Endpoint: parsing http://HOST:PORT, its names, and connecting (Unix and TCP).
#include "host/cli/endpoint.h"
#include "host/cli/loopback_test_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace ember::cli {
namespace {

Endpoint ok(std::string_view text) {
  auto endpoint = parse_endpoint(text);
  EXPECT_TRUE(endpoint.ok()) << text << ": " << endpoint.error().message();
  return endpoint.ok() ? *endpoint : Endpoint();
}

// The message of text that must be refused.
std::string refused(std::string_view text) {
  auto endpoint = parse_endpoint(text);
  EXPECT_FALSE(endpoint.ok()) << text << " was accepted";
  return endpoint.ok() ? std::string() : endpoint.error().message();
}

TEST(EndpointTest, ParsesUrlsAndHostPort) {
  EXPECT_EQ(ok("http://h:1"), Endpoint::tcp("h", 1));
  EXPECT_EQ(ok("h:1"), Endpoint::tcp("h", 1));
  EXPECT_EQ(ok("HTTP://127.0.0.1:9000/"), Endpoint::tcp("127.0.0.1", 9000));
  EXPECT_EQ(ok("localhost:65535"), Endpoint::tcp("localhost", 65535));
  EXPECT_EQ(ok("[::1]:9000"), Endpoint::tcp("::1", 9000));
  EXPECT_EQ(ok("http://[fd00::2]:80"), Endpoint::tcp("fd00::2", 80));
}

TEST(EndpointTest, NamesAndHostHeader) {
  const Endpoint v4 = Endpoint::tcp("127.0.0.1", 9000);
  EXPECT_EQ(v4.name(), "http://127.0.0.1:9000");
  EXPECT_EQ(v4.authority(), "127.0.0.1:9000");
  EXPECT_EQ(v4.host_header(), "127.0.0.1:9000");
  const Endpoint v6 = Endpoint::tcp("::1", 9000);
  EXPECT_EQ(v6.name(), "http://[::1]:9000");
  EXPECT_EQ(v6.host_header(), "[::1]:9000");
  const Endpoint unix_socket = Endpoint::unix_socket("/run/ember/ember.sock");
  EXPECT_EQ(unix_socket.name(), "/run/ember/ember.sock");
  EXPECT_EQ(unix_socket.host_header(), "localhost");
}

TEST(EndpointTest, RefusesBadPortsAndShapes) {
  for (const char* text : {"h:0", "h:65536", "h:99999999999", "h:-1", "h:+1", "h:x", "h:",
                           "h: 1", "http://h:1x"}) {
    EXPECT_NE(refused(text).find("the port must be a number 1..65535"), std::string::npos)
        << text;
  }
  EXPECT_NE(refused("h").find("the port is missing"), std::string::npos);
  EXPECT_NE(refused("http://h").find("the port is missing"), std::string::npos);
  EXPECT_NE(refused("[::1]").find("the port is missing"), std::string::npos);
  EXPECT_NE(refused("[::1:9000").find("']' is missing"), std::string::npos);
  EXPECT_NE(refused("::1:9000").find("brackets"), std::string::npos);
  EXPECT_NE(refused(":9000").find("the host is missing"), std::string::npos);
  EXPECT_NE(refused("http://:9000").find("the host is missing"), std::string::npos);
  EXPECT_NE(refused("http://h:1/2015-03-31").find("without a path"), std::string::npos);
  EXPECT_NE(refused("http://user@h:1").find("without a path, query or user"), std::string::npos);
  EXPECT_NE(refused("").find("the port is missing"), std::string::npos);
}

TEST(EndpointTest, RefusesTlsAndOtherSchemes) {
  const std::string tls = refused("https://h:443");
  EXPECT_EQ(tls.rfind("'https://h:443': TLS is not supported", 0), 0u) << tls;
  EXPECT_NE(tls.find("use http://h:443"), std::string::npos) << tls;
  EXPECT_NE(refused("HTTPS://h:1").find("TLS is not supported"), std::string::npos);
  EXPECT_NE(refused("unix:///run/ember.sock").find("only http:// is supported"),
            std::string::npos);
}

TEST(EndpointTest, UnixConnectFailureKeepsErrno) {
  auto fd = connect_endpoint(Endpoint::unix_socket("/nonexistent/ember-test.sock"));
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, ENOENT);
  EXPECT_FALSE(connect_endpoint(Endpoint::unix_socket(std::string(200, 'x'))).ok());
  EXPECT_FALSE(connect_endpoint(Endpoint::unix_socket("")).ok());
}

TEST(EndpointTest, ConnectsOverTcpV4) {
  LoopbackSocket server = bind_loopback(AF_INET, true);
  ASSERT_NE(server.port, 0) << std::strerror(errno);
  auto fd = connect_endpoint(Endpoint::tcp("127.0.0.1", server.port));
  ASSERT_TRUE(fd.ok()) << fd.error().message();
  EXPECT_TRUE(fd->valid());
  // A name resolves too (localhost may also resolve to ::1, where no one listens).
  auto by_name = connect_endpoint(Endpoint::tcp("localhost", server.port));
  EXPECT_TRUE(by_name.ok()) << by_name.error().message();
}

TEST(EndpointTest, ConnectsOverTcpV6) {
  LoopbackSocket server = bind_loopback(AF_INET6, true);
  if (server.port == 0) GTEST_SKIP() << "no IPv6 loopback: " << std::strerror(errno);
  auto fd = connect_endpoint(ok("[::1]:" + std::to_string(server.port)));
  ASSERT_TRUE(fd.ok()) << fd.error().message();
}

TEST(EndpointTest, TcpConnectFailureKeepsErrno) {
  LoopbackSocket bound = bind_loopback(AF_INET, false);
  ASSERT_NE(bound.port, 0) << std::strerror(errno);
  auto refused_fd = connect_endpoint(Endpoint::tcp("127.0.0.1", bound.port));
  ASSERT_FALSE(refused_fd.ok());
  EXPECT_EQ(refused_fd.error().code, ECONNREFUSED) << refused_fd.error().message();
  auto unresolved = connect_endpoint(Endpoint::tcp("no-such-host.invalid", 9000));
  ASSERT_FALSE(unresolved.ok());
  EXPECT_NE(unresolved.error().message().find("no-such-host.invalid"), std::string::npos);
}

}  // namespace
}  // namespace ember::cli

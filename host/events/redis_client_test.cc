// Tests of --redis parsing, and of RedisConnection and the stream helpers against a real
// redis-server this test starts on a free loopback port and a Unix socket in a temp dir.
#include "host/events/redis_client.h"

#include <gtest/gtest.h>

#include "host/events/redis_test_server.h"

namespace ember::host {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

using Clock = std::chrono::steady_clock;
using Type = RedisValue::Type;

// ---- flag parsing ----

TEST(RedisFlagTest, UnnamedIsDefaultWithDefaults) {
  auto server = parse_redis_flag("redis://10.0.0.5");
  ASSERT_TRUE(server.ok()) << server.error().message();
  EXPECT_EQ(server->name, "default");
  EXPECT_EQ(server->host, "10.0.0.5");
  EXPECT_EQ(server->port, 6379);
  EXPECT_EQ(server->db, 0);
  EXPECT_TRUE(server->password.empty());
  EXPECT_FALSE(server->tls);
  EXPECT_EQ(server->describe(), "redis://10.0.0.5:6379/0");
}

TEST(RedisFlagTest, NamePortDbAndPassword) {
  auto server = parse_redis_flag("orders_1=redis://:s3cr%40t@cache.internal:6390/4");
  ASSERT_TRUE(server.ok()) << server.error().message();
  EXPECT_EQ(server->name, "orders_1");
  EXPECT_EQ(server->host, "cache.internal");
  EXPECT_EQ(server->port, 6390);
  EXPECT_EQ(server->db, 4);
  EXPECT_EQ(server->password, "s3cr@t");
  EXPECT_TRUE(server->username.empty());
  EXPECT_EQ(server->describe(), "redis://cache.internal:6390/4");
}

TEST(RedisFlagTest, UserPasswordLonePasswordAndRawAt) {
  auto acl = parse_redis_flag("redis://ember:pw@h/1");
  ASSERT_TRUE(acl.ok()) << acl.error().message();
  EXPECT_EQ(acl->username, "ember");
  EXPECT_EQ(acl->password, "pw");
  auto lone = parse_redis_flag("redis://onlysecret@h");
  ASSERT_TRUE(lone.ok()) << lone.error().message();
  EXPECT_EQ(lone->password, "onlysecret");
  EXPECT_TRUE(lone->username.empty());
  auto raw = parse_redis_flag("redis://:a@b/c@h:7000");  // the last '@' ends the password
  ASSERT_TRUE(raw.ok()) << raw.error().message();
  EXPECT_EQ(raw->password, "a@b/c");
  EXPECT_EQ(raw->host, "h");
  EXPECT_EQ(raw->port, 7000);
}

TEST(RedisFlagTest, Ipv6AndUnix) {
  auto v6 = parse_redis_flag("redis://[::1]:6380");
  ASSERT_TRUE(v6.ok()) << v6.error().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 6380);
  EXPECT_EQ(v6->describe(), "redis://[::1]:6380/0");

  auto local = parse_redis_flag("q=unix:///run/redis/redis.sock?db=2&password=p%26w");
  ASSERT_TRUE(local.ok()) << local.error().message();
  EXPECT_EQ(local->name, "q");
  EXPECT_EQ(local->unix_path, "/run/redis/redis.sock");
  EXPECT_TRUE(local->host.empty());
  EXPECT_EQ(local->db, 2);
  EXPECT_EQ(local->password, "p&w");
  EXPECT_EQ(local->describe(), "unix:///run/redis/redis.sock?db=2");
  EXPECT_EQ(parse_redis_flag("unix:///tmp/r.sock")->describe(), "unix:///tmp/r.sock");
}

TEST(RedisFlagTest, BadValuesNameTheProblemAndAnExample) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no URL"},
      {"10.0.0.5:6379", "no redis:// or unix://"},
      {"http://h", "unknown scheme \"http://\""},
      {"redis://", "no host"},
      {"redis://h:port", "port \"port\" is not a number"},
      {"redis://h:0", "port \"0\""},
      {"redis://h:65536", "port \"65536\""},
      {"redis://h:", "empty port"},
      {"redis://h/x", "database number"},
      {"redis://h/-1", "database number"},
      {"redis://::1:6379", "brackets"},
      {"redis://[::1", "without ']'"},
      {"redis://h?tls=1", "unknown query parameter \"tls\""},
      {"redis://:%zz@h", "%-escape"},
      {"unix://relative.sock", "absolute path"},
      {"bad name=redis://h", "the name \"bad name\""},
      {"=redis://h", "the name \"\""},
      {std::string(65, 'n') + "=redis://h", "1-64 letters"},
  };
  for (const auto& [flag, problem] : cases) {
    auto server = parse_redis_flag(flag);
    ASSERT_FALSE(server.ok()) << flag;
    const std::string message = server.error().message();
    EXPECT_TRUE(contains(message, problem)) << flag << " -> " << message;
    EXPECT_TRUE(contains(message, "e.g. --redis events=redis://")) << message;
  }
}

TEST(RedisFlagTest, RedissIsRefusedClearly) {
  auto server = parse_redis_flag("tls=rediss://:hunter2@h:6380");
  ASSERT_FALSE(server.ok());
  const std::string message = server.error().message();
  EXPECT_TRUE(contains(message, "rediss:// (TLS) is not supported")) << message;
  EXPECT_TRUE(contains(message, "hiredis 0.14")) << message;
  EXPECT_FALSE(contains(message, "hunter2")) << message;
}

TEST(RedisFlagTest, PasswordsNeverShow) {
  auto server = parse_redis_flag("a=redis://ember:hunter2@h:6379/3");
  ASSERT_TRUE(server.ok());
  EXPECT_FALSE(contains(server->describe(), "hunter2"));
  EXPECT_FALSE(contains(server->describe(), "ember:"));
  auto local = parse_redis_flag("unix:///s.sock?password=hunter2");
  ASSERT_TRUE(local.ok());
  EXPECT_FALSE(contains(local->describe(), "hunter2"));
  // Nor in the errors about the rest of the value.
  for (const char* flag : {"redis://:hunter2@h:notaport", "unix:///s?password=hunter2&x=1",
                           "redis://u:hunter2@[::1"}) {
    auto bad = parse_redis_flag(flag);
    ASSERT_FALSE(bad.ok()) << flag;
    EXPECT_FALSE(contains(bad.error().message(), "hunter2")) << bad.error().message();
    EXPECT_TRUE(contains(bad.error().message(), "***")) << bad.error().message();
  }
}

TEST(RedisFlagTest, SeveralFlagsAndDuplicates) {
  auto servers = parse_redis_flags({"redis://a", "b=redis://b:7000", "c=unix:///c.sock"});
  ASSERT_TRUE(servers.ok()) << servers.error().message();
  ASSERT_EQ(servers->size(), 3u);
  EXPECT_EQ((*servers)[0].name, "default");
  EXPECT_EQ((*servers)[1].name, "b");
  EXPECT_EQ((*servers)[2].unix_path, "/c.sock");

  auto twice = parse_redis_flags({"redis://a", "default=redis://b"});
  ASSERT_FALSE(twice.ok());
  EXPECT_TRUE(contains(twice.error().message(), "\"default\" is given twice"))
      << twice.error().message();
  EXPECT_FALSE(parse_redis_flags({"x=redis://a", "x=redis://b"}).ok());
  EXPECT_FALSE(parse_redis_flags({"redis://a", "redis://b:1"}).ok());
  auto bad = parse_redis_flags({"redis://a", "b=redis://h:x"});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.error().message(), "port \"x\"")) << bad.error().message();
}

// ---- connections against a real redis-server ----

class RedisConnectionTest : public RedisServerTest {};

TEST_F(RedisConnectionTest, CommandsOverTcpAndUnixSocket) {
  for (const RedisServer& server : {tcp_server(), unix_server()}) {
    ASSERT_REDIS_CONNECT(c, server, 5s);
    auto pong = c.command({"PING"});
    ASSERT_TRUE(pong.ok()) << pong.error().message();
    EXPECT_EQ(pong->type, Type::kStatus);
    EXPECT_EQ(pong->text, "PONG");

    const std::string binary("a\0b\xff\r\n", 6);
    ASSERT_TRUE(c.command({"SET", "k\0" + server.describe(), binary}).ok());
    auto got = c.command({"GET", "k\0" + server.describe()});
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->type, Type::kString);
    EXPECT_EQ(got->text, binary);
    EXPECT_EQ(c.command({"GET", "missing"})->type, Type::kNil);
    auto count = c.command({"INCRBY", "n", "41"});
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(count->type, Type::kInteger);
    ASSERT_TRUE(c.command({"RPUSH", "list", "x", ""}).ok());
    auto list = c.command({"LRANGE", "list", "0", "-1"});
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->type, Type::kArray);
    ASSERT_EQ(list->elements.size(), 2u);
    EXPECT_EQ(list->elements[1].text, "");
    ASSERT_TRUE(c.command({"DEL", "list", "n"}).ok());
  }
}

TEST_F(RedisConnectionTest, AnErrorReplyKeepsTheConnection) {
  ASSERT_REDIS_CONNECT(c, tcp_server(), 5s);
  auto bad = c.command({"NOSUCHCOMMAND", "x"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, EPROTO);
  EXPECT_EQ(bad.error().context.rfind("ERR unknown command", 0), 0u) << bad.error().context;
  EXPECT_TRUE(contains(bad.error().op, "NOSUCHCOMMAND")) << bad.error().op;
  EXPECT_FALSE(c.broken());
  EXPECT_TRUE(c.command({"PING"}).ok());
  EXPECT_FALSE(c.command({}).ok());
}

TEST_F(RedisConnectionTest, SelectsTheDatabase) {
  ASSERT_REDIS_CONNECT(three, tcp_server(3), 5s);
  ASSERT_TRUE(three.command({"SET", "where", "three"}).ok());
  ASSERT_REDIS_CONNECT(zero, tcp_server(0), 5s);
  EXPECT_EQ(zero.command({"GET", "where"})->type, Type::kNil);
  ASSERT_REDIS_CONNECT(again, unix_server(3), 5s);
  EXPECT_EQ(again.command({"GET", "where"})->text, "three");

  auto out_of_range = RedisConnection::connect(tcp_server(99), 2s, 2s);
  ASSERT_FALSE(out_of_range.ok());
  EXPECT_TRUE(contains(out_of_range.error().message(), "DB index is out of range"))
      << out_of_range.error().message();
  EXPECT_TRUE(contains(out_of_range.error().message(), "`databases` setting"));
}

TEST_F(RedisConnectionTest, IoTimeoutBreaksTheConnection) {
  ASSERT_REDIS_CONNECT(c, tcp_server(), 200ms);
  const auto start = Clock::now();
  auto blocked = c.command({"BLPOP", "nothing", "2"});
  const auto took = Clock::now() - start;
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code, ETIMEDOUT) << blocked.error().message();
  EXPECT_TRUE(contains(blocked.error().message(), "no answer within 200 ms"))
      << blocked.error().message();
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(c.broken());
  auto after = c.command({"PING"});
  ASSERT_FALSE(after.ok());
  EXPECT_TRUE(contains(after.error().message(), "connect again")) << after.error().message();
}

TEST_F(RedisConnectionTest, StoppedServerBreaksTheConnection) {
  ASSERT_REDIS_CONNECT(c, tcp_server(), 2s);
  ASSERT_REDIS_CONNECT(big, unix_server(), 2s);
  ASSERT_TRUE(c.command({"PING"}).ok());
  stop_server();
  // A large write meets the closed socket (EPIPE, ECONNRESET or EOF): an error, not a crash.
  auto big_reply = big.command({"SET", "k", std::string(4 << 20, 'x')});
  ASSERT_FALSE(big_reply.ok());
  EXPECT_TRUE(big.broken());
  EXPECT_TRUE(contains(big_reply.error().message(), socket_path())) << big_reply.error().message();
  auto reply = c.command({"PING"});
  ASSERT_FALSE(reply.ok());
  EXPECT_TRUE(c.broken());
  const std::string message = reply.error().message();
  EXPECT_TRUE(contains(message, "redis PING")) << message;
  EXPECT_TRUE(contains(message, tcp_server().describe())) << message;
  EXPECT_FALSE(c.command({"PING"}).ok());

  auto reconnect = RedisConnection::connect(unix_server(), 500ms, 500ms);
  ASSERT_FALSE(reconnect.ok());
  EXPECT_TRUE(contains(reconnect.error().message(), socket_path())) << reconnect.error().message();
}

TEST(RedisConnectFailureTest, ClosedPortFailsClearlyWithinTheTimeout) {
  RedisServer server;
  server.host = "127.0.0.1";
  server.port = free_loopback_port();
  ASSERT_GT(server.port, 0);
  const auto start = Clock::now();
  auto c = RedisConnection::connect(server, 500ms, 500ms);
  ASSERT_FALSE(c.ok());
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(c.error().code, ECONNREFUSED) << c.error().message();
  EXPECT_TRUE(contains(c.error().message(), server.describe())) << c.error().message();
  EXPECT_TRUE(contains(c.error().message(), "Connection refused")) << c.error().message();
}

TEST(RedisConnectFailureTest, SilentServerTimesOut) {
  // Listens (so the TCP connect succeeds) but never answers the handshake's PING.
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  RedisServer server;
  server.host = "127.0.0.1";
  server.port = ntohs(addr.sin_port);
  const auto start = Clock::now();
  auto c = RedisConnection::connect(server, 300ms, 300ms);
  ASSERT_FALSE(c.ok());
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(c.error().code, ETIMEDOUT) << c.error().message();
  EXPECT_TRUE(contains(c.error().message(), "ping redis")) << c.error().message();
}

TEST(RedisConnectFailureTest, MissingUnixSocket) {
  RedisServer server;
  server.unix_path = "/nonexistent/ember/redis.sock";
  auto c = RedisConnection::connect(server, 500ms, 500ms);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ENOENT) << c.error().message();
  EXPECT_TRUE(contains(c.error().message(), "unix:///nonexistent/ember/redis.sock"));
}

class RedisPasswordTest : public RedisServerTest {
 protected:
  std::vector<std::string> extra_args() const override { return {"--requirepass", "hunter2"}; }
  std::string password() const override { return "hunter2"; }
};

TEST_F(RedisPasswordTest, ConnectsOnlyWithThePassword) {
  ASSERT_REDIS_CONNECT(c, tcp_server(2), 2s);
  EXPECT_EQ(c.command({"PING"})->text, "PONG");

  RedisServer none = tcp_server();
  none.password.clear();
  auto refused = RedisConnection::connect(none, 2s, 2s);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.error().message(), "NOAUTH")) << refused.error().message();
  EXPECT_TRUE(contains(refused.error().message(), "redis://:PASSWORD@"));

  RedisServer wrong = unix_server();
  wrong.password = "letmein";
  auto denied = RedisConnection::connect(wrong, 2s, 2s);
  ASSERT_FALSE(denied.ok());
  EXPECT_TRUE(contains(denied.error().message(), "WRONGPASS")) << denied.error().message();
  EXPECT_FALSE(contains(denied.error().message(), "letmein"));

  // A Redis 6 ACL user: AUTH user password.
  ASSERT_TRUE(c.command({"ACL", "SETUSER", "ember", "on", ">pw2", "~*", "+@all"}).ok());
  RedisServer user = tcp_server();
  user.username = "ember";
  user.password = "pw2";
  ASSERT_REDIS_CONNECT(as_user, user, 2s);
  EXPECT_EQ(as_user.command({"ACL", "WHOAMI"})->text, "ember");
}

}  // namespace
}  // namespace ember::host

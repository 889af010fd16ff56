// RedisConnection over hiredis: connect with timeouts, AUTH/SELECT, binary-safe commands.
#include "host/events/redis_client.h"

#include <hiredis.h>
#include <sys/time.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace ember::host {
namespace {

struct ReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

timeval to_timeval(std::chrono::milliseconds ms) {
  const long long count = ms.count() < 0 ? 0 : ms.count();
  timeval tv = {};
  tv.tv_sec = static_cast<time_t>(count / 1000);
  tv.tv_usec = static_cast<suseconds_t>((count % 1000) * 1000);
  return tv;
}

// The command's name for messages: arguments may be large, binary or secret (AUTH).
std::string command_name(const std::vector<std::string>& argv) {
  std::string name;
  for (char ch : argv.front().substr(0, 32)) {
    name +=
        std::isprint(static_cast<unsigned char>(ch)) ? static_cast<char>(std::toupper(ch)) : '?';
  }
  return name;
}

RedisValue convert(const redisReply* reply) {
  RedisValue value;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      value.type = reply->type == REDIS_REPLY_STRING   ? RedisValue::Type::kString
                   : reply->type == REDIS_REPLY_STATUS ? RedisValue::Type::kStatus
                                                       : RedisValue::Type::kError;
      if (reply->str != nullptr) value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      value.type = RedisValue::Type::kInteger;
      value.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      value.type = RedisValue::Type::kArray;
      value.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) {
        value.elements.push_back(convert(reply->element[i]));
      }
      break;
    default:  // REDIS_REPLY_NIL, and anything newer than RESP2
      value.type = RedisValue::Type::kNil;
      break;
  }
  return value;
}

// The reason a context failed: errno for I/O errors (a receive timeout made clear), else
// hiredis's own text. `saved_errno` is errno right after the failed call.
Error context_error(const redisContext* context, int saved_errno, std::string op,
                    const std::string& server, std::chrono::milliseconds timeout,
                    const char* timeout_what) {
  const std::string reason = context->errstr;
  if (context->err == REDIS_ERR_IO &&
      (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT)) {
    return Error{ETIMEDOUT, std::move(op),
                 server + ": no answer within " + std::to_string(timeout.count()) + " ms (" +
                     timeout_what + "); is the server up and reachable?"};
  }
  if (context->err == REDIS_ERR_IO && saved_errno != 0) {
    std::string detail = server;
    if (reason != std::strerror(saved_errno)) detail += ": " + reason;
    return Error{saved_errno, std::move(op), detail};
  }
  if (context->err == REDIS_ERR_EOF) {
    return make_error(std::move(op), server + ": the server closed the connection");
  }
  return make_error(std::move(op), server + ": " + reason);
}

// Runs one handshake command, naming what went wrong and what to change in --redis.
Status handshake(RedisConnection& connection, const std::vector<std::string>& argv,
                 const std::string& what, const std::string& server) {
  auto reply = connection.command(argv);
  if (reply.ok()) return {};
  Error error = reply.error();
  error.op = what + " (" + server + ")";
  if (error.code != EPROTO) return error;
  const std::string& message = error.context;
  if (message.rfind("NOAUTH", 0) == 0) {
    error.context += "; the server wants a password: --redis NAME=redis://:PASSWORD@HOST:PORT";
  } else if (message.rfind("WRONGPASS", 0) == 0 ||
             message.find("invalid password") != std::string::npos) {
    error.context += "; check the user and password given in --redis";
  } else if (message.find("DB index") != std::string::npos) {
    error.context += "; pick a database below the server's `databases` setting (default 16)";
  } else if (message.find("no password is set") != std::string::npos ||
             message.find("without any password configured") != std::string::npos) {
    error.context += "; leave the password out of --redis";
  }
  return error;
}

}  // namespace

void RedisConnection::ContextFree::operator()(redisContext* context) const { redisFree(context); }

Result<RedisConnection> RedisConnection::connect(const RedisServer& server,
                                                 std::chrono::milliseconds connect_timeout,
                                                 std::chrono::milliseconds io_timeout) {
  const std::string where = server.describe();
  if (server.tls) {
    return make_error("connect to " + where,
                      "TLS (rediss://) is not supported by this build's hiredis");
  }
  const timeval tv = to_timeval(connect_timeout);
  errno = 0;
  redisContext* raw = server.unix_path.empty()
                          ? redisConnectWithTimeout(server.host.c_str(), server.port, tv)
                          : redisConnectUnixWithTimeout(server.unix_path.c_str(), tv);
  const int saved_errno = errno;
  if (raw == nullptr) return make_error("connect to " + where, "out of memory");
  RedisConnection connection(raw, where, io_timeout);
  if (raw->err != 0) {
    return context_error(raw, saved_errno, "connect to redis", where, connect_timeout,
                         "connect timeout");
  }
  // Keepalive finds a vanished peer on an idle TCP connection (no-op for Unix sockets).
  if (server.unix_path.empty()) redisEnableKeepAlive(raw);
  if (redisSetTimeout(raw, to_timeval(io_timeout)) != REDIS_OK) {
    return context_error(raw, errno, "set redis timeout", where, io_timeout, "io timeout");
  }
  if (!server.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!server.username.empty()) auth.push_back(server.username);
    auth.push_back(server.password);
    EMBER_CHECK(handshake(connection, auth, "authenticate to redis", where));
  }
  if (server.db != 0) {
    EMBER_CHECK(handshake(connection, {"SELECT", std::to_string(server.db)},
                          "select redis database", where));
  }
  // A server that wants a password answers NOAUTH only to a command: ask now, not later.
  EMBER_CHECK(handshake(connection, {"PING"}, "ping redis", where));
  return connection;
}

Result<RedisValue> RedisConnection::command(const std::vector<std::string>& argv) {
  if (argv.empty()) return make_error("redis command", "no command given");
  const std::string op = "redis " + command_name(argv);
  if (broken_ || context_ == nullptr) {
    return make_error(op, describe_ + ": the connection broke earlier; connect again");
  }
  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  pointers.reserve(argv.size());
  lengths.reserve(argv.size());
  for (const std::string& arg : argv) {
    pointers.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  errno = 0;
  ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(
      context_.get(), static_cast<int>(argv.size()), pointers.data(), lengths.data())));
  const int saved_errno = errno;
  if (reply == nullptr) {
    // hiredis leaves a failed context unusable (a half-read reply cannot be resynced).
    broken_ = true;
    return context_error(context_.get(), saved_errno, op, describe_, io_timeout_, "io timeout");
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string message = reply->str != nullptr ? std::string(reply->str, reply->len) : "";
    return Error{EPROTO, op + " at " + describe_, std::move(message)};
  }
  return convert(reply.get());
}

}  // namespace ember::host

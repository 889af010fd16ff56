// Redis for event source mappings: --redis server flags, a hiredis connection, stream helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

struct redisContext;

namespace ember::host {

// One configured Redis server: emberd --redis [NAME=]URL (repeatable; unnamed: "default").
// URL forms:
//   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]     (HOST may be [IPv6]; PASSWORD %-encoded)
//   unix:///PATH[?db=N][&password=P][&username=U]
struct RedisServer {
  std::string name;  // [A-Za-z0-9_-]{1,64}
  std::string host;  // redis:// form
  int port = 6379;
  std::string unix_path;  // unix:///path form (host empty)
  std::string username;   // Redis 6 ACL user; empty: AUTH with the password alone
  std::string password;   // never printed: describe() leaves it out
  int db = 0;
  bool tls = false;  // rediss://
  // "redis://host:port/db" or "unix:///path" (plus "?db=N" when db is not 0); no password.
  std::string describe() const;
};

// Parses one --redis value; errors are for people (name the problem and an example) and
// never repeat the password. rediss:// is refused: hiredis 0.14 has no TLS.
Result<RedisServer> parse_redis_flag(std::string_view flag);
// Several flags: duplicate names are an error.
Result<std::vector<RedisServer>> parse_redis_flags(const std::vector<std::string>& flags);

struct RedisValue {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string text;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<RedisValue> elements;
};

// One connection (RAII over redisContext); not thread-safe: one per thread or per poller.
// hiredis writes with write(2): the process must ignore SIGPIPE (emberd does).
class RedisConnection {
 public:
  // Connects with a timeout, AUTHs and SELECTs as the server says, then PINGs so a missing
  // password shows here; every command afterwards has `io_timeout` (zero: none), and a
  // blocking XREADGROUP's BLOCK must be shorter.
  static Result<RedisConnection> connect(const RedisServer& server,
                                         std::chrono::milliseconds connect_timeout,
                                         std::chrono::milliseconds io_timeout);
  // Runs one command (binary-safe argv). A Redis error reply is an Error whose context is
  // the server's message (e.g. "BUSYGROUP ..."), code EPROTO; a broken connection is an
  // Error with the errno/hiredis reason and the server's describe(), and the connection is
  // then unusable (broken() true).
  Result<RedisValue> command(const std::vector<std::string>& argv);
  bool broken() const { return broken_; }

  std::chrono::milliseconds io_timeout() const { return io_timeout_; }
  const std::string& describe() const { return describe_; }

 private:
  struct ContextFree {
    void operator()(redisContext* context) const;
  };
  RedisConnection(redisContext* context, std::string describe, std::chrono::milliseconds io_timeout)
      : context_(context), describe_(std::move(describe)), io_timeout_(io_timeout) {}

  std::unique_ptr<redisContext, ContextFree> context_;
  std::string describe_;  // the server, for error messages
  std::chrono::milliseconds io_timeout_;
  bool broken_ = false;
};

struct StreamEntry {
  std::string id;  // "1700000000000-0"
  std::vector<std::pair<std::string, std::string>> fields;
  // Only from XREADGROUP of pending ids ("0"): the entry was deleted (XDEL, MAXLEN) while
  // pending, so it has no fields and can only be acknowledged.
  bool deleted = false;
};

// XGROUP CREATE key group start_id MKSTREAM; an existing group (BUSYGROUP) is fine.
Status ensure_group(RedisConnection& c, const std::string& key, const std::string& group,
                    const std::string& start_id);
// XREADGROUP GROUP group consumer COUNT count [BLOCK block_ms] STREAMS key id; id ">" for new
// entries, "0" for this consumer's pending ones. Empty on timeout. A BLOCK not shorter than
// the connection's io_timeout (or BLOCK 0, forever) is refused before anything is sent.
Result<std::vector<StreamEntry>> xreadgroup(RedisConnection& c, const std::string& group,
                                            const std::string& consumer, const std::string& key,
                                            size_t count, std::optional<int64_t> block_ms,
                                            const std::string& id = ">");
// XACK key group id...; no ids: nothing is sent.
Status xack(RedisConnection& c, const std::string& key, const std::string& group,
            const std::vector<std::string>& ids);
// XAUTOCLAIM key group consumer min_idle_ms start COUNT count: the next start cursor and the
// entries claimed (deleted entries are skipped, and leave the pending list). Cursor "0-0"
// means the scan is complete; deleted entries count toward COUNT, so a batch can be empty
// before that.
Result<std::pair<std::string, std::vector<StreamEntry>>> xautoclaim(
    RedisConnection& c, const std::string& key, const std::string& group,
    const std::string& consumer, int64_t min_idle_ms, const std::string& start, size_t count);
// XPENDING key group - + count [consumer]: each pending entry's id and delivery count.
Result<std::vector<std::pair<std::string, int64_t>>> xpending_counts(RedisConnection& c,
                                                                     const std::string& key,
                                                                     const std::string& group,
                                                                     size_t count);
Result<std::vector<std::pair<std::string, int64_t>>> xpending_counts(RedisConnection& c,
                                                                     const std::string& key,
                                                                     const std::string& group,
                                                                     size_t count,
                                                                     const std::string& consumer);
// XADD key * field value ...: the new id.
Result<std::string> xadd(RedisConnection& c, const std::string& key,
                         const std::vector<std::pair<std::string, std::string>>& fields);
// Lag: entries in the stream after the group's last delivered id plus pending ones, from
// XINFO GROUPS (Redis 7 has "lag" and "pending"); -1 when unknown (Redis < 7, or a lag
// Redis cannot compute after deletions). A missing group is an error.
Result<int64_t> group_lag(RedisConnection& c, const std::string& key, const std::string& group);

}  // namespace ember::host

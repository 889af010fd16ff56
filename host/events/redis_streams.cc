// Redis Streams consumer-group helpers over RedisConnection: groups, reads, acks, claims, lag.
#include <cerrno>

#include "host/events/redis_client.h"

namespace ember::host {
namespace {

using Type = RedisValue::Type;

Error shape_error(const RedisConnection& c, const std::string& command, const std::string& what) {
  return make_error("redis " + command + " at " + c.describe(), "unexpected reply: " + what);
}

// [id, [field, value, ...]]; [id, nil] is an entry deleted while pending.
Result<StreamEntry> parse_entry(const RedisConnection& c, const std::string& command,
                                const RedisValue& value) {
  if (value.type != Type::kArray || value.elements.size() != 2 ||
      value.elements[0].type != Type::kString) {
    return shape_error(c, command, "an entry is not [id, fields]");
  }
  StreamEntry entry;
  entry.id = value.elements[0].text;
  const RedisValue& fields = value.elements[1];
  if (fields.type == Type::kNil) {
    entry.deleted = true;
    return entry;
  }
  if (fields.type != Type::kArray || fields.elements.size() % 2 != 0) {
    return shape_error(c, command, "entry " + entry.id + " has no field/value list");
  }
  entry.fields.reserve(fields.elements.size() / 2);
  for (size_t i = 0; i < fields.elements.size(); i += 2) {
    entry.fields.emplace_back(fields.elements[i].text, fields.elements[i + 1].text);
  }
  return entry;
}

Result<std::vector<StreamEntry>> parse_entries(const RedisConnection& c, const std::string& command,
                                               const RedisValue& value, bool keep_deleted) {
  if (value.type != Type::kArray) return shape_error(c, command, "entries are not an array");
  std::vector<StreamEntry> entries;
  entries.reserve(value.elements.size());
  for (const RedisValue& element : value.elements) {
    if (element.type == Type::kNil) continue;  // Redis 6.2's XAUTOCLAIM of a deleted entry
    EMBER_TRY(StreamEntry entry, parse_entry(c, command, element));
    if (entry.deleted && !keep_deleted) continue;
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

Status ensure_group(RedisConnection& c, const std::string& key, const std::string& group,
                    const std::string& start_id) {
  auto reply = c.command({"XGROUP", "CREATE", key, group, start_id, "MKSTREAM"});
  if (reply.ok()) return {};
  const Error& error = reply.error();
  if (error.code == EPROTO && error.context.rfind("BUSYGROUP", 0) == 0) return {};
  return error;
}

Result<std::vector<StreamEntry>> xreadgroup(RedisConnection& c, const std::string& group,
                                            const std::string& consumer, const std::string& key,
                                            size_t count, std::optional<int64_t> block_ms,
                                            const std::string& id) {
  std::vector<std::string> argv = {"XREADGROUP", "GROUP", group,
                                   consumer,     "COUNT", std::to_string(count)};
  if (block_ms) {
    const int64_t io_ms = c.io_timeout().count();
    // A BLOCK the socket timeout cuts short would break the connection mid-reply.
    if (*block_ms < 0 || (io_ms > 0 && (*block_ms == 0 || *block_ms >= io_ms))) {
      return make_error("redis XREADGROUP at " + c.describe(),
                        "BLOCK " + std::to_string(*block_ms) +
                            " ms must be positive and shorter than the connection's io timeout (" +
                            std::to_string(io_ms) + " ms)");
    }
    argv.push_back("BLOCK");
    argv.push_back(std::to_string(*block_ms));
  }
  argv.insert(argv.end(), {"STREAMS", key, id});
  EMBER_TRY(RedisValue reply, c.command(argv));
  if (reply.type == Type::kNil) return std::vector<StreamEntry>{};  // BLOCK timed out
  // [[key, entries]]: one stream asked, so one element.
  if (reply.type != Type::kArray || reply.elements.size() != 1 ||
      reply.elements[0].type != Type::kArray || reply.elements[0].elements.size() != 2) {
    return shape_error(c, "XREADGROUP", "not [[key, entries]]");
  }
  return parse_entries(c, "XREADGROUP", reply.elements[0].elements[1], /*keep_deleted=*/true);
}

Status xack(RedisConnection& c, const std::string& key, const std::string& group,
            const std::vector<std::string>& ids) {
  if (ids.empty()) return {};
  std::vector<std::string> argv = {"XACK", key, group};
  argv.insert(argv.end(), ids.begin(), ids.end());
  EMBER_TRY(RedisValue reply, c.command(argv));
  if (reply.type != Type::kInteger) return shape_error(c, "XACK", "not an integer");
  return {};
}

Result<std::pair<std::string, std::vector<StreamEntry>>> xautoclaim(
    RedisConnection& c, const std::string& key, const std::string& group,
    const std::string& consumer, int64_t min_idle_ms, const std::string& start, size_t count) {
  EMBER_TRY(RedisValue reply,
            c.command({"XAUTOCLAIM", key, group, consumer, std::to_string(min_idle_ms), start,
                       "COUNT", std::to_string(count)}));
  // Redis 7: [cursor, entries, deleted ids]; Redis 6.2: [cursor, entries].
  if (reply.type != Type::kArray || reply.elements.size() < 2 ||
      reply.elements[0].type != Type::kString) {
    return shape_error(c, "XAUTOCLAIM", "not [cursor, entries, ...]");
  }
  EMBER_TRY(std::vector<StreamEntry> entries,
            parse_entries(c, "XAUTOCLAIM", reply.elements[1], /*keep_deleted=*/false));
  return std::make_pair(reply.elements[0].text, std::move(entries));
}

Result<std::vector<std::pair<std::string, int64_t>>> xpending_counts(RedisConnection& c,
                                                                     const std::string& key,
                                                                     const std::string& group,
                                                                     size_t count) {
  return xpending_counts(c, key, group, count, std::string());
}

Result<std::vector<std::pair<std::string, int64_t>>> xpending_counts(RedisConnection& c,
                                                                     const std::string& key,
                                                                     const std::string& group,
                                                                     size_t count,
                                                                     const std::string& consumer) {
  std::vector<std::string> argv = {"XPENDING", key, group, "-", "+", std::to_string(count)};
  if (!consumer.empty()) argv.push_back(consumer);
  EMBER_TRY(RedisValue reply, c.command(argv));
  if (reply.type != Type::kArray) return shape_error(c, "XPENDING", "not an array");
  std::vector<std::pair<std::string, int64_t>> out;
  out.reserve(reply.elements.size());
  // Each: [id, consumer, idle ms, delivery count].
  for (const RedisValue& row : reply.elements) {
    if (row.type != Type::kArray || row.elements.size() != 4 ||
        row.elements[3].type != Type::kInteger) {
      return shape_error(c, "XPENDING", "a row is not [id, consumer, idle, deliveries]");
    }
    out.emplace_back(row.elements[0].text, row.elements[3].integer);
  }
  return out;
}

Result<std::string> xadd(RedisConnection& c, const std::string& key,
                         const std::vector<std::pair<std::string, std::string>>& fields) {
  if (fields.empty()) return make_error("redis XADD", "an entry needs at least one field");
  std::vector<std::string> argv = {"XADD", key, "*"};
  argv.reserve(3 + 2 * fields.size());
  for (const auto& [field, value] : fields) {
    argv.push_back(field);
    argv.push_back(value);
  }
  EMBER_TRY(RedisValue reply, c.command(argv));
  if (reply.type != Type::kString) return shape_error(c, "XADD", "not an id");
  return reply.text;
}

Result<int64_t> group_lag(RedisConnection& c, const std::string& key, const std::string& group) {
  EMBER_TRY(RedisValue reply, c.command({"XINFO", "GROUPS", key}));
  if (reply.type != Type::kArray) return shape_error(c, "XINFO GROUPS", "not an array");
  // Each group is a flat [name, N, consumers, N, pending, N, ..., lag, N|nil].
  for (const RedisValue& info : reply.elements) {
    if (info.type != Type::kArray || info.elements.size() % 2 != 0) {
      return shape_error(c, "XINFO GROUPS", "a group is not a field/value list");
    }
    const RedisValue* name = nullptr;
    const RedisValue* pending = nullptr;
    const RedisValue* lag = nullptr;
    for (size_t i = 0; i < info.elements.size(); i += 2) {
      const std::string& field = info.elements[i].text;
      const RedisValue* value = &info.elements[i + 1];
      if (field == "name") name = value;
      if (field == "pending") pending = value;
      if (field == "lag") lag = value;
    }
    if (name == nullptr || name->text != group) continue;
    if (pending == nullptr || pending->type != Type::kInteger || lag == nullptr ||
        lag->type != Type::kInteger) {
      return int64_t{-1};  // before Redis 7, or a lag Redis cannot count after deletions
    }
    return static_cast<int64_t>(lag->integer + pending->integer);
  }
  return make_error(
      "redis XINFO GROUPS at " + c.describe(),
      "stream " + key + " has no consumer group " + group + "; create it first (ensure_group)");
}

}  // namespace ember::host

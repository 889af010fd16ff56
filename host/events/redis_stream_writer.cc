// RedisStreamWriter: XADD of one "data" field, reconnecting after failures.
#include "host/events/redis_stream_writer.h"

#include "host/events/redis_arn.h"

namespace ember::host {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(2);
constexpr auto kIoTimeout = std::chrono::seconds(5);

}  // namespace

RedisStreamWriter::RedisStreamWriter(std::vector<RedisServer> servers) {
  for (RedisServer& server : servers) {
    auto entry = std::make_unique<Server>();
    entry->config = std::move(server);
    servers_.emplace(entry->config.name, std::move(entry));
  }
}

bool RedisStreamWriter::knows(const std::string& server) const {
  return servers_.contains(server);
}

Status RedisStreamWriter::append(const std::string& arn, const std::string& data) {
  // A queue source is a stream too: an entry appended to it is a message to receive.
  EMBER_TRY(RedisArn target, parse_redis_arn(arn));
  auto found = servers_.find(target.server);
  if (found == servers_.end()) {
    return make_error("append to " + arn,
                      "emberd has no Redis server named '" + target.server +
                          "'; start emberd with --redis " + target.server + "=redis://HOST:PORT");
  }
  Server& server = *found->second;
  std::lock_guard lock(server.mu);
  if (server.connection == nullptr || server.connection->broken()) {
    EMBER_TRY(RedisConnection connection,
              RedisConnection::connect(server.config, kConnectTimeout, kIoTimeout));
    server.connection = std::make_unique<RedisConnection>(std::move(connection));
  }
  auto added = xadd(*server.connection, target.key, {{"data", data}});
  if (!added.ok()) return added.error();
  return {};
}

}  // namespace ember::host

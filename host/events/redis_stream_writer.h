// RedisStreamWriter: appends records to Redis streams named by ARN (destinations and
// dead-letter targets), one lazily made connection per configured server.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "host/events/redis_client.h"

namespace ember::host {

class RedisStreamWriter {
 public:
  explicit RedisStreamWriter(std::vector<RedisServer> servers);

  // Whether emberd has a server of this name.
  bool knows(const std::string& server) const;
  // Appends one entry with the single field "data" = `data` to the stream the ARN names
  // (arn:ember:redis:::SERVER/stream/KEY). Fails, to be retried later, when the server is
  // unknown or unreachable; a broken connection is made again on the next call.
  Status append(const std::string& arn, const std::string& data);

 private:
  struct Server {
    RedisServer config;
    std::mutex mu;
    std::unique_ptr<RedisConnection> connection;  // null until needed, or after it broke
  };
  std::map<std::string, std::unique_ptr<Server>> servers_;
};

}  // namespace ember::host

// Parsing of arn:ember:redis:::SERVER/(stream|queue)/KEY.
#include "host/events/redis_arn.h"

#include <regex>

namespace ember::host {
namespace {

constexpr std::string_view kPrefix = "arn:ember:redis:::";

}  // namespace

std::string RedisArn::to_string() const {
  return std::string(kPrefix) + server + (queue ? "/queue/" : "/stream/") + key;
}

bool looks_like_redis_arn(std::string_view arn) { return arn.starts_with("arn:ember:redis:"); }

Result<RedisArn> parse_redis_arn(std::string_view arn) {
  const auto malformed = [&](const std::string& why) {
    return make_error("parse Redis ARN", "'" + std::string(arn) + "' " + why +
                                             "; expected arn:ember:redis:::SERVER/stream/KEY or "
                                             "arn:ember:redis:::SERVER/queue/KEY");
  };
  if (!arn.starts_with(kPrefix)) return malformed("does not start with arn:ember:redis:::");
  const std::string_view rest = arn.substr(kPrefix.size());
  const size_t first = rest.find('/');
  if (first == std::string_view::npos) return malformed("has no /stream/ or /queue/ part");
  const size_t second = rest.find('/', first + 1);
  if (second == std::string_view::npos) return malformed("has no key");
  RedisArn parsed;
  parsed.server = std::string(rest.substr(0, first));
  const std::string_view kind = rest.substr(first + 1, second - first - 1);
  parsed.key = std::string(rest.substr(second + 1));
  static const std::regex server_pattern("[A-Za-z0-9_-]{1,64}");
  if (!std::regex_match(parsed.server, server_pattern)) {
    return malformed("has a server name that is not [A-Za-z0-9_-]{1,64}");
  }
  if (kind != "stream" && kind != "queue") return malformed("is neither a stream nor a queue");
  if (parsed.key.empty()) return malformed("has an empty key");
  parsed.queue = kind == "queue";
  return parsed;
}

}  // namespace ember::host

// Redis source and destination ARNs: arn:ember:redis:::SERVER/stream/KEY and .../queue/KEY.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace ember::host {

struct RedisArn {
  std::string server;  // a name given to emberd with --redis NAME=URL
  bool queue = false;  // .../queue/KEY (SQS-like); otherwise .../stream/KEY (Kinesis-like)
  std::string key;     // the stream's key, any bytes but empty

  std::string to_string() const;  // the ARN again
};

// True when the text starts like a Redis ARN (it may still be malformed).
bool looks_like_redis_arn(std::string_view arn);

// Parses the ARN; the error's context says what is wrong and shows the expected form.
Result<RedisArn> parse_redis_arn(std::string_view arn);

}  // namespace ember::host

// FunctionRecord: one function as emberd stores it (the $LATEST version's configuration).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace ember::host {

struct FunctionRecord {
  std::string name;  // [A-Za-z0-9_-]{1,64}, the primary key
  std::string runtime;
  std::string handler;
  std::string role;  // stored and returned, never used
  std::string description;
  uint32_t memory_mb = 128;
  uint32_t timeout_s = 3;
  uint32_t ephemeral_mb = 512;  // /tmp
  std::map<std::string, std::string> environment;
  std::string tracing_mode = "PassThrough";
  std::string dead_letter_arn;   // DeadLetterConfig.TargetArn: an Ember function's ARN, or ""
  std::string egress;  // Ember's "Egress" field: a canonical egress policy, "" for emberd's default
  std::string code_sha256_hex;   // names the zip and image in the code store
  uint64_t code_size = 0;        // bytes of the zip
  int64_t last_modified_ms = 0;  // Unix time in milliseconds
  std::string revision_id;       // a UUID, new on every change

  bool operator==(const FunctionRecord&) const = default;
};

}  // namespace ember::host

// SigV4 signing of the CLI's TCP requests: where the access key and region come from, and
// the headers a signed request carries.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "host/cli/http_client.h"

namespace ember::cli {

// Reads an environment variable; nullptr when unset.
using GetEnv = std::function<const char*(const char*)>;

struct SigningKey {
  std::string access_key_id;
  std::string secret_access_key;
  std::string source;  // where it was found, for messages: "$AWS_ACCESS_KEY_ID", a file
};

// $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY when both are set; else profile
// $AWS_PROFILE (else "default") of $AWS_SHARED_CREDENTIALS_FILE (else $HOME/.aws/credentials).
// The error says what was looked for and how to provide a key.
Result<SigningKey> find_signing_key(const GetEnv& env);

// `flag` when not empty, else $AWS_REGION, else $AWS_DEFAULT_REGION, else "us-east-1".
std::string signing_region(const std::string& flag, const GetEnv& env);

// Adds X-Amz-Date, X-Amz-Content-Sha256 and Authorization (service "lambda") to request,
// which is sent with Host: host; host, the date and the content hash are signed.
void sign_request(HttpRequest& request, std::string_view host, const SigningKey& key,
                  const std::string& region, int64_t now_unix_s);

}  // namespace ember::cli

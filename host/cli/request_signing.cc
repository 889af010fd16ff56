// The CLI's credentials lookup and SigV4 headers (host/api/sigv4.h does the signing).
#include "host/cli/request_signing.h"

#include "host/api/credentials_file.h"
#include "host/api/sigv4.h"

namespace ember::cli {
namespace {

std::string env_or(const GetEnv& env, const char* name, const std::string& fallback) {
  const char* value = env(name);
  return value && *value ? std::string(value) : fallback;
}

}  // namespace

Result<SigningKey> find_signing_key(const GetEnv& env) {
  const std::string id = env_or(env, "AWS_ACCESS_KEY_ID", "");
  const std::string secret = env_or(env, "AWS_SECRET_ACCESS_KEY", "");
  if (!id.empty() && !secret.empty()) return SigningKey{id, secret, "$AWS_ACCESS_KEY_ID"};
  const std::string home = env_or(env, "HOME", "");
  const std::string path = env_or(env, "AWS_SHARED_CREDENTIALS_FILE",
                                  home.empty() ? "" : home + "/.aws/credentials");
  const std::string profile = env_or(env, "AWS_PROFILE", "default");
  const std::string how =
      "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to a key in emberd's --credentials "
      "file, or put it in ~/.aws/credentials (profile [default], or AWS_PROFILE)";
  if (path.empty()) {
    return make_error("find an access key to sign requests to emberd", "no $HOME; " + how);
  }
  auto keys = host::read_credentials_file(path);
  if (!keys.ok()) {
    if (keys.error().code == ENOENT) {
      return make_error("find an access key to sign requests to emberd",
                        "AWS_ACCESS_KEY_ID is not set and " + path + " does not exist; " + how);
    }
    return keys.error();
  }
  for (const host::AccessKey& key : *keys) {
    if (key.profile == profile) {
      return SigningKey{key.access_key_id, key.secret_access_key,
                        path + " [" + profile + "]"};
    }
  }
  return make_error("find an access key to sign requests to emberd",
                    "AWS_ACCESS_KEY_ID is not set and " + path + " has no profile [" + profile +
                        "] with aws_access_key_id and aws_secret_access_key; " + how);
}

std::string signing_region(const std::string& flag, const GetEnv& env) {
  if (!flag.empty()) return flag;
  return env_or(env, "AWS_REGION", env_or(env, "AWS_DEFAULT_REGION", "us-east-1"));
}

void sign_request(HttpRequest& request, std::string_view host, const SigningKey& key,
                  const std::string& region, int64_t now_unix_s) {
  const std::string date = host::sigv4_amz_date(now_unix_s);
  const std::string payload_hash = host::sha256_hex(request.body);
  host::SigV4Message message;
  message.method = request.method;
  const size_t mark = request.target.find('?');
  message.path = request.target.substr(0, mark);
  message.raw_query = mark == std::string::npos ? "" : request.target.substr(mark + 1);
  message.headers = {{"host", std::string(host)},
                     {"x-amz-content-sha256", payload_hash},
                     {"x-amz-date", date}};
  message.payload_sha256_hex = payload_hash;
  const host::SigV4Scope scope{date.substr(0, 8), region, "lambda"};
  request.headers.emplace_back("X-Amz-Date", date);
  request.headers.emplace_back("X-Amz-Content-Sha256", payload_hash);
  request.headers.emplace_back(
      "Authorization",
      host::sigv4_authorization(message, key.access_key_id, key.secret_access_key, date, scope));
}

}  // namespace ember::cli

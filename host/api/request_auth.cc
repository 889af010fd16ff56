// RequestAuthenticator: the checks AWS makes on a SigV4-signed request, in AWS's words.
#include "host/api/request_auth.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "host/api/sigv4.h"
#include "host/api/uuid.h"

namespace ember::host {
namespace {

constexpr char kSignatureMismatch[] =
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details.";

ApiError missing_token() {
  return {403, "MissingAuthenticationTokenException", "Missing Authentication Token"};
}
ApiError incomplete_signature(std::string message) {
  return {403, "IncompleteSignatureException", std::move(message)};
}
ApiError unrecognized_client() {
  return {403, "UnrecognizedClientException",
          "The security token included in the request is invalid."};
}
ApiError invalid_signature(std::string message) {
  return {403, "InvalidSignatureException", std::move(message)};
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// "'lambda'" or "'lambda' or 'scheduler'", for the scope's service refusal.
std::string quoted_alternatives(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "'" : " or '") + item + "'";
  return text;
}

// Constant-time comparison of two hex signatures.
bool same_signature(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

ApiStatus RequestAuthenticator::verify(const HttpRequest& request, int64_t now_unix_s,
                                       const std::vector<std::string>& services) const {
  const auto header = request.headers.find("authorization");
  if (header == request.headers.end() || header->second.empty()) return missing_token();
  auto parsed = parse_sigv4_authorization(header->second);
  if (!parsed.ok()) return incomplete_signature(parsed.error().context);
  const SigV4Authorization& auth = *parsed;

  const auto key = options_.keys.find(auth.access_key_id);
  if (key == options_.keys.end()) return unrecognized_client();

  if (!contains(auth.signed_headers, "host")) {
    return incomplete_signature("'Host' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const std::string amz_date = request.header("x-amz-date");
  if (amz_date.empty()) {
    return incomplete_signature(
        "Authorization header requires existence of a 'X-Amz-Date' header.");
  }
  if (!contains(auth.signed_headers, "x-amz-date")) {
    return incomplete_signature("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const std::optional<int64_t> signed_at = parse_sigv4_amz_date(amz_date);
  if (!signed_at) {
    return incomplete_signature("X-Amz-Date must be in the ISO 8601 basic format "
                                "YYYYMMDD'T'HHMMSS'Z', got '" + amz_date + "'.");
  }
  const std::string now = sigv4_amz_date(now_unix_s);
  if (*signed_at < now_unix_s - kSigV4MaxSkewSeconds) {
    return invalid_signature("Signature expired: " + amz_date + " is now earlier than " +
                             sigv4_amz_date(now_unix_s - kSigV4MaxSkewSeconds) + " (" + now +
                             " - 5 min.)");
  }
  if (*signed_at > now_unix_s + kSigV4MaxSkewSeconds) {
    return invalid_signature("Signature not yet current: " + amz_date + " is still later than " +
                             sigv4_amz_date(now_unix_s + kSigV4MaxSkewSeconds) + " (" + now +
                             " + 5 min.)");
  }
  if (auth.scope.date != amz_date.substr(0, 8)) {
    return invalid_signature("Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                             "version of date from HTTP: '" + auth.scope.date + "' != '" +
                             amz_date.substr(0, 8) + "', from '" + amz_date + "'.");
  }
  if (auth.scope.region != options_.region) {
    return invalid_signature("Credential should be scoped to a valid region, not '" +
                             auth.scope.region + "'. This emberd serves region '" +
                             options_.region + "'.");
  }
  if (!contains(services, auth.scope.service)) {
    return invalid_signature(
        "Credential should be scoped to correct service: " + quoted_alternatives(services) +
        ", not '" + auth.scope.service + "'. ");
  }
  if (auth.terminator != "aws4_request") {
    return invalid_signature("Credential should be scoped with a valid terminator: "
                             "'aws4_request', not '" + auth.terminator + "'. ");
  }

  const std::string body_hash = sha256_hex(request.body);
  const std::string claimed_hash = request.header("x-amz-content-sha256");
  if (!claimed_hash.empty() && claimed_hash != body_hash) {
    return invalid_signature("The provided 'x-amz-content-sha256' header does not match what "
                             "was computed.");
  }
  SigV4Message message{request.method, request.path, request.raw_query, {}, body_hash};
  for (const std::string& name : auth.signed_headers) {
    const auto value = request.headers.find(name);
    if (value == request.headers.end()) return invalid_signature(kSignatureMismatch);
    message.headers.emplace_back(name, value->second);
  }
  const std::string expected = sigv4_signature(message, key->second, amz_date, auth.scope);
  if (!same_signature(expected, auth.signature)) return invalid_signature(kSignatureMismatch);
  return {};
}

HttpResponse AuthenticatingHandler::handle(const HttpRequest& request) {
  if (request.unix_socket || request.path.starts_with("/lambda-url/")) {
    return inner_.handle(request);
  }
  const ApiStatus verified =
      authenticator_.verify(request, static_cast<int64_t>(std::time(nullptr)));
  if (verified.ok()) return inner_.handle(request);
  const ApiError& error = verified.error();
  log_refused_request(request, error);
  HttpResponse response = error_response(error);
  response.set_header("x-amzn-RequestId", random_uuid());
  return response;
}

void log_refused_request(const HttpRequest& request, const ApiError& error, std::string_view what) {
  const std::string peer = request.unix_socket ? "the Unix socket" : request.peer_address;
  std::fprintf(stderr, "emberd: refused %.*s%s%s %s from %s: %s: %s\n",
               static_cast<int>(what.size()), what.data(), what.empty() ? "" : " ",
               request.method.c_str(), request.path.c_str(), peer.c_str(), error.type.c_str(),
               error.message.c_str());
}

}  // namespace ember::host

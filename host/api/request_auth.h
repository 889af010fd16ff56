// RequestAuthenticator: verifies a request's SigV4 Authorization header the way Lambda does,
// and AuthenticatingHandler, which puts it in front of an HttpHandler for TCP requests.
// Function URLs with AuthType AWS_IAM use the same authenticator (see FunctionUrlApi).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "host/api/api_error.h"
#include "host/api/http_server.h"

namespace ember::host {

struct RequestAuthOptions {
  std::map<std::string, std::string> keys;  // access key id -> secret access key
  std::string region = "us-east-1";         // the only region a credential scope may name
  std::vector<std::string> services = {"lambda", "scheduler"};  // scopes' accepted services
};

class RequestAuthenticator {
 public:
  explicit RequestAuthenticator(RequestAuthOptions options) : options_(std::move(options)) {}

  // Ok when request carries a valid AWS4-HMAC-SHA256 Authorization header signed by a known
  // key, for options.region and one of options.services, with host and x-amz-date signed,
  // the body's SHA-256 as payload hash and an X-Amz-Date within 5 minutes of now_unix_s.
  // Otherwise AWS's 403: MissingAuthenticationTokenException, IncompleteSignatureException,
  // UnrecognizedClientException or InvalidSignatureException.
  ApiStatus verify(const HttpRequest& request, int64_t now_unix_s) const {
    return verify(request, now_unix_s, options_.services);
  }
  // As above, with the scope's service one of `services` instead of options.services
  // (function URLs accept only "lambda", as Lambda's do).
  ApiStatus verify(const HttpRequest& request, int64_t now_unix_s,
                   const std::vector<std::string>& services) const;

  // False when emberd has no --credentials: then no request can pass verify().
  bool has_keys() const { return !options_.keys.empty(); }

 private:
  const RequestAuthOptions options_;
};

// Passes requests to `inner`; a TCP request (not request.unix_socket) is verified first,
// except those for function URLs (/lambda-url/...), which check their own AuthType: NONE
// URLs are public, AWS_IAM URLs are verified by FunctionUrlApi. A refused request never
// reaches `inner`; its refusal is logged in one line.
class AuthenticatingHandler : public HttpHandler {
 public:
  AuthenticatingHandler(HttpHandler& inner, const RequestAuthenticator& authenticator)
      : inner_(inner), authenticator_(authenticator) {}

  size_t body_limit(std::string_view method, std::string_view path) const override {
    return inner_.body_limit(method, path);
  }
  HttpResponse handle(const HttpRequest& request) override;
  HttpResponse reject(HttpRejection why, std::string_view method, std::string_view path,
                      std::string_view detail) const override {
    return inner_.reject(why, method, path, detail);
  }

 private:
  HttpHandler& inner_;
  const RequestAuthenticator& authenticator_;
};

// The one line emberd logs for a refused request: "emberd: refused METHOD PATH from PEER:
// TYPE: MESSAGE" (what names the kind of request, e.g. "function URL"; may be empty).
void log_refused_request(const HttpRequest& request, const ApiError& error,
                         std::string_view what = "");

}  // namespace ember::host

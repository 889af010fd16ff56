// FunctionUrlApi: Lambda's function URL configs (2021-10-31) and the URLs themselves.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "host/api/api_error.h"
#include "host/api/invocation_runner.h"
#include "host/api/request_auth.h"
#include "host/api/router.h"
#include "host/store/function_store.h"
#include "host/store/function_url_store.h"

namespace ember::host {

// Routes ({name} as in Lambda's other routes; only $LATEST has a URL, so ?Qualifier= is
// checked as Lambda checks an alias name and then finds nothing):
//   POST   /2021-10-31/functions/{name}/url   CreateFunctionUrlConfig (201)
//   GET    /2021-10-31/functions/{name}/url   GetFunctionUrlConfig
//   PUT    /2021-10-31/functions/{name}/url   UpdateFunctionUrlConfig
//   DELETE /2021-10-31/functions/{name}/url   DeleteFunctionUrlConfig (204)
//   GET    /2021-10-31/functions/{name}/urls  ListFunctionUrlConfigs
//   <any>  /lambda-url/{id}/{path+}           the URL: the request as a payload 2.0 event,
//                                             run synchronously, the result as the response
// AuthType NONE URLs are public. AuthType AWS_IAM URLs run only requests SigV4-signed for
// service "lambda" by a key of the authenticator given to check_signatures_with(), on every
// listener; the others are answered 403 without running anything (CORS preflights, which
// browsers never sign, are answered from the Cors config as for NONE). InvokeMode BUFFERED
// only, for now.
class FunctionUrlApi {
 public:
  // base_url: how clients reach emberd, e.g. "http://127.0.0.1:9000" (see
  // function_url_base()); URLs are "<base_url>/lambda-url/<url id>/".
  FunctionUrlApi(FunctionStore& functions, FunctionUrlStore& urls, InvocationRunner& runner,
                 std::string base_url);

  // Adds the routes above; before serving starts.
  void add_routes(Router& router);
  // The keys AWS_IAM URLs' signatures are checked with (emberd's --credentials); set before
  // serving starts, outlives this. Without it, or with no keys, every request to an AWS_IAM
  // URL is refused with a message naming --credentials.
  void check_signatures_with(const RequestAuthenticator& authenticator) {
    authenticator_ = &authenticator;
  }
  // For LambdaApi::on_function_deleted: a deleted function's URL goes with it.
  void function_deleted(const std::string& name);

  // "<base_url>/lambda-url/<url_id>/".
  std::string function_url(const std::string& url_id) const;

 private:
  HttpResponse create(const HttpRequest& request, const RouteParams& params);
  HttpResponse get(const HttpRequest& request, const RouteParams& params);
  HttpResponse update(const HttpRequest& request, const RouteParams& params);
  HttpResponse remove(const HttpRequest& request, const RouteParams& params);
  HttpResponse list(const HttpRequest& request, const RouteParams& params);
  HttpResponse serve(const HttpRequest& request, const RouteParams& params);

  // The existing function the route's {name} and ?Qualifier= designate.
  ApiResult<std::string> function_name(const HttpRequest& request, const RouteParams& params,
                                       bool with_qualifier = true);
  // The function's URL config; ResourceNotFoundException when it has none.
  ApiResult<FunctionUrlConfig> config_of(const std::string& name);
  // Empty when config's AuthType lets request through; otherwise the 403 to answer.
  std::optional<HttpResponse> refuse_unauthorized(const FunctionUrlConfig& config,
                                                  const HttpRequest& request) const;

  FunctionStore& functions_;
  FunctionUrlStore& urls_;
  InvocationRunner& runner_;
  const std::string base_url_;
  const RequestAuthenticator* authenticator_ = nullptr;
};

// The base of function URLs for a listener's description ("tcp:127.0.0.1:9000" ->
// "http://127.0.0.1:9000"; a wildcard address 0.0.0.0 or [::] becomes localhost);
// "http://localhost" for anything that is not TCP.
std::string function_url_base(std::string_view listener_description);

}  // namespace ember::host

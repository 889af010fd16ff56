// LambdaApi: Lambda's REST API (2015-03-31) and Ember's own routes, as an HttpHandler.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/utc_time.h"
#include "host/api/api_error.h"
#include "host/api/http_server.h"
#include "host/api/invocation_runner.h"
#include "host/api/invoker.h"
#include "host/api/router.h"
#include "host/logs/function_logs.h"
#include "host/store/code_store.h"
#include "host/store/event_queue.h"
#include "host/store/function_store.h"
#include "host/store/zip_check.h"

namespace ember::host {

struct LambdaApiOptions {
  std::string region = "us-east-1";
  size_t max_invoke_payload_bytes = 6 * 1024 * 1024;  // 6291456, Lambda's synchronous limit
  size_t max_event_payload_bytes = 1024 * 1024;       // 1048576, asynchronous (Event) invokes
  // CreateFunction and UpdateFunctionCode: a 50 MB zip in base64 plus the JSON around it.
  size_t max_code_request_bytes = 69905067;
  size_t max_other_request_bytes = 1024 * 1024;
  ZipLimits zip_limits;
};

// Routes (function names may be names, partial ARNs or ARNs, see resolve_function_name()):
//   POST   /2015-03-31/functions                                CreateFunction (201)
//   GET    /2015-03-31/functions/                               ListFunctions
//   GET    /2015-03-31/functions/{name}                         GetFunction
//   DELETE /2015-03-31/functions/{name}                         DeleteFunction (204)
//   GET    /2015-03-31/functions/{name}/configuration           GetFunctionConfiguration
//   PUT    /2015-03-31/functions/{name}/configuration           UpdateFunctionConfiguration
//   PUT    /2015-03-31/functions/{name}/code                    UpdateFunctionCode
//   POST   /2015-03-31/functions/{name}/invocations             Invoke
//   GET    /ember/v1/functions/{name}/logs?offset=N             the function's log from N
//   GET    /ember/v1/functions/{name}/async                      its async queue and recent fates
//   GET    /ember/v1/code/{sha256hex}.zip                       a stored deployment package
// Changes to functions are serialized; reads and invocations run concurrently.
class LambdaApi : public HttpHandler {
 public:
  LambdaApi(FunctionStore& functions, CodeStore& code, FunctionLogs& logs, Invoker& invoker,
            LambdaApiOptions options = {});

  size_t body_limit(std::string_view method, std::string_view path) const override;
  // Never throws: a failure inside a route becomes a ServiceException response.
  HttpResponse handle(const HttpRequest& request) override;
  HttpResponse reject(HttpRejection why, std::string_view method, std::string_view path,
                      std::string_view detail) const override;

  // The route table, for the other APIs emberd serves on the same listeners (event invoke
  // configs, schedules, function URLs): they add their routes before serving starts.
  Router& router() { return router_; }
  // Runs invocations and writes their log lines; shared with the other ways in.
  InvocationRunner& runner() { return runner_; }
  // Invoke with X-Amz-Invocation-Type: Event commits the event to `queue` before its 202.
  // Without a queue such invokes are refused. Set before serving starts.
  void accept_events(EventQueue& queue) { events_ = &queue; }
  // Called after DeleteFunction removed a function, with changes still serialized, so what
  // belongs to the function elsewhere (its queued events, URL, event invoke config) goes
  // with it. Add before serving starts.
  void on_function_deleted(std::function<void(const std::string& name)> hook) {
    deletion_hooks_.push_back(std::move(hook));
  }

 private:
  using Params = RouteParams;
  // function_routes.cc
  HttpResponse create_function(const HttpRequest& request, const Params& params);
  HttpResponse list_functions(const HttpRequest& request, const Params& params);
  HttpResponse get_function(const HttpRequest& request, const Params& params);
  HttpResponse get_configuration(const HttpRequest& request, const Params& params);
  HttpResponse delete_function(const HttpRequest& request, const Params& params);
  // update_routes.cc
  HttpResponse update_code(const HttpRequest& request, const Params& params);
  HttpResponse update_configuration(const HttpRequest& request, const Params& params);
  // invoke_route.cc
  HttpResponse invoke(const HttpRequest& request, const Params& params);
  HttpResponse invoke_async(const HttpRequest& request, const FunctionRecord& function);
  // A RequestResponse invocation's answer (X-Amz-Log-Result when log_tail).
  static HttpResponse invoke_response(const Result<InvocationResult>& result,
                                      const std::string& request_id, bool log_tail);
  // ember_routes.cc
  HttpResponse read_logs(const HttpRequest& request, const Params& params);
  HttpResponse download_code(const HttpRequest& request, const Params& params);
  HttpResponse async_status(const HttpRequest& request, const Params& params);

  // The stored function the route's {name} and ?Qualifier= designate.
  ApiResult<FunctionRecord> find_function(const HttpRequest& request, const Params& params);
  // Checks a zip and stores it (callers hold changes_mu_).
  ApiResult<StoredCode> store_code(const std::string& zip);
  // Deletes a package no function uses any more (callers hold changes_mu_).
  void drop_code_if_unused(const std::string& sha256_hex);
  // An error from the store or code store, as a ServiceException (logged).
  ApiError internal_error(const std::string& what, const Error& error) const;

  FunctionStore& functions_;
  CodeStore& code_;
  FunctionLogs& logs_;
  Invoker& invoker_;
  const LambdaApiOptions options_;
  InvocationRunner runner_;
  EventQueue* events_ = nullptr;
  Router router_;
  std::mutex changes_mu_;  // create, update and delete, one at a time
  std::vector<std::function<void(const std::string&)>> deletion_hooks_;
};

// Ember's X-Ember-Timing header value: "start=cold;queue=0.10;restore=0.00;boot=85.31;
// init=120.00;handler=12.34;total=218.02" (milliseconds, 2 decimals; start=warm when the
// environment was ready).
std::string ember_timing_header(const InvokeTiming& timing);

}  // namespace ember::host

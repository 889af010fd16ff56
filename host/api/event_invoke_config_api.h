// EventInvokeConfigApi: Lambda's asynchronous invocation settings per function (2019-09-25).
#pragma once

#include <string>

#include "host/api/api_error.h"
#include "host/api/router.h"
#include "host/store/event_invoke_config_store.h"
#include "host/store/function_store.h"

namespace ember::host {

// Routes ({name} as in Lambda's other routes; ?Qualifier= may only be $LATEST):
//   PUT    /2019-09-25/functions/{name}/event-invoke-config       PutFunctionEventInvokeConfig
//   POST   /2019-09-25/functions/{name}/event-invoke-config       UpdateFunctionEventInvokeConfig
//   GET    /2019-09-25/functions/{name}/event-invoke-config       GetFunctionEventInvokeConfig
//   DELETE /2019-09-25/functions/{name}/event-invoke-config       DeleteFunctionEventInvokeConfig
//   GET    /2019-09-25/functions/{name}/event-invoke-config/list  ListFunctionEventInvokeConfigs
class EventInvokeConfigApi {
 public:
  EventInvokeConfigApi(FunctionStore& functions, EventInvokeConfigStore& configs,
                       std::string region)
      : functions_(functions), configs_(configs), region_(std::move(region)) {}

  void add_routes(Router& router);

 private:
  HttpResponse put(const HttpRequest& request, const RouteParams& params, bool merge);
  HttpResponse get(const HttpRequest& request, const RouteParams& params);
  HttpResponse remove(const HttpRequest& request, const RouteParams& params);
  HttpResponse list(const HttpRequest& request, const RouteParams& params);
  // The existing function the request names.
  ApiResult<std::string> function_name(const HttpRequest& request, const RouteParams& params);

  FunctionStore& functions_;
  EventInvokeConfigStore& configs_;
  const std::string region_;
};

}  // namespace ember::host

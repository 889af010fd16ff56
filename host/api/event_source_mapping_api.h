// EventSourceMappingApi: Lambda's event source mappings (2015-03-31) for Redis sources.
#pragma once

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "host/api/api_error.h"
#include "host/api/event_source_mapping_validation.h"
#include "host/api/router.h"
#include "host/store/event_source_mapping_store.h"
#include "host/store/function_store.h"

namespace ember::host {

// Routes:
//   POST   /2015-03-31/event-source-mappings/        CreateEventSourceMapping (202)
//   GET    /2015-03-31/event-source-mappings/        ListEventSourceMappings (?EventSourceArn=,
//                                                    ?FunctionName=, ?Marker=, ?MaxItems=
//                                                    1-10000, default 100)
//   GET    /2015-03-31/event-source-mappings/{UUID}  GetEventSourceMapping
//   PUT    /2015-03-31/event-source-mappings/{UUID}  UpdateEventSourceMapping (202)
//   DELETE /2015-03-31/event-source-mappings/{UUID}  DeleteEventSourceMapping (202)
// Sources are Redis streams and queues on the servers emberd was given (see
// event_source_mapping_validation.h). A change answers a transitional State (Creating, Enabling,
// Disabling, Updating, Deleting); the poller then reports Enabled or Disabled through
// EventSourceMappingStore::set_status().
class EventSourceMappingApi {
 public:
  // `changed` runs after every change to a mapping (create, update, delete, and a deleted
  // function's mappings going), outside the API's lock, so pollers can pick the change up.
  EventSourceMappingApi(FunctionStore& functions, EventSourceMappingStore& mappings,
                        std::string region, RedisServerNames redis_servers,
                        std::function<void()> changed = {});

  // Adds the routes above; before serving starts.
  void add_routes(Router& router);
  // For LambdaApi::on_function_deleted: a deleted function's mappings go with it.
  void function_deleted(const std::string& name);

 private:
  // The routes' bodies; add_routes() answers them with the route's status or the error.
  ApiResult<nlohmann::json> create(const HttpRequest& request);
  ApiResult<nlohmann::json> get(const std::string& uuid);
  ApiResult<nlohmann::json> update(const HttpRequest& request, const std::string& uuid);
  ApiResult<nlohmann::json> remove(const std::string& uuid);
  ApiResult<nlohmann::json> list(const HttpRequest& request);

  // The existing function a FunctionName designates (name, partial ARN or ARN).
  ApiResult<std::string> existing_function(const std::string& given);
  ApiResult<EventSourceMapping> find(const std::string& uuid);
  // A store error on a mapping as Lambda's error: ResourceConflictException for EEXIST.
  ApiError store_error(const std::string& what, const Error& error,
                       const EventSourceMapping& mapping);
  // Lambda's EventSourceMappingConfiguration.
  nlohmann::json mapping_json(const EventSourceMapping& mapping) const;
  void notify() const;

  FunctionStore& functions_;
  EventSourceMappingStore& mappings_;
  const std::string region_;
  const RedisServerNames redis_servers_;
  const std::function<void()> changed_;
  std::mutex changes_mu_;  // a read-check-write of a mapping at a time
};

}  // namespace ember::host

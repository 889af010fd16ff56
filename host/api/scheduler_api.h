// SchedulerApi: EventBridge Scheduler's REST-JSON API (2021-06-30) on emberd's Router.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "host/api/api_error.h"
#include "host/api/router.h"
#include "host/store/schedule_store.h"

namespace ember::host {

struct SchedulerApiOptions {
  std::string region = "us-east-1";
  // Unix seconds now (CreationDate, LastModificationDate); empty: the system clock.
  std::function<int64_t()> clock;
};

// Routes (only the schedule group "default" exists; any other GroupName is
// ResourceNotFoundException):
//   POST   /schedules/{Name}          CreateSchedule
//   GET    /schedules/{Name}          GetSchedule       ?groupName=
//   PUT    /schedules/{Name}          UpdateSchedule    (replaces the whole schedule)
//   DELETE /schedules/{Name}          DeleteSchedule    ?groupName=&clientToken=
//   GET    /schedules                 ListSchedules     ?NamePrefix=&State=&MaxResults=
//                                                       &NextToken=&ScheduleGroup=
//   GET    /schedule-groups/{Name}    GetScheduleGroup
//   GET    /schedule-groups           ListScheduleGroups
//   POST   /schedule-groups/{Name}    CreateScheduleGroup (refused: Ember has only default)
//   DELETE /schedule-groups/{Name}    DeleteScheduleGroup (refused: default cannot go)
// Errors as Scheduler answers them: ValidationException 400, ResourceNotFoundException 404,
// ConflictException 409, InternalServerException 500.
class SchedulerApi {
 public:
  // `changed` runs after every change to a schedule (the runner's changed()). The store
  // outlives the routes.
  SchedulerApi(ScheduleStore& store, SchedulerApiOptions options,
               std::function<void()> changed = {});

  // Adds the routes above; call before serving starts. The routes capture `this`.
  void add_routes(Router& router);

 private:
  HttpResponse create_schedule(const HttpRequest& request, const RouteParams& params);
  HttpResponse get_schedule(const HttpRequest& request, const RouteParams& params);
  HttpResponse update_schedule(const HttpRequest& request, const RouteParams& params);
  HttpResponse delete_schedule(const HttpRequest& request, const RouteParams& params);
  HttpResponse list_schedules(const HttpRequest& request, const RouteParams& params);
  HttpResponse get_group(const HttpRequest& request, const RouteParams& params);
  HttpResponse list_groups(const HttpRequest& request, const RouteParams& params);
  HttpResponse create_group(const HttpRequest& request, const RouteParams& params);
  HttpResponse delete_group(const HttpRequest& request, const RouteParams& params);

  int64_t now() const;
  void notify() const;
  // The schedule {Name} in ?groupName=, or the ResourceNotFoundException answer.
  ApiResult<ScheduleRecord> find(const HttpRequest& request, const RouteParams& params);
  // A store failure, logged, as InternalServerException.
  ApiError internal_error(const std::string& what, const Error& error) const;

  ScheduleStore& store_;
  const SchedulerApiOptions options_;
  const std::function<void()> changed_;
};

}  // namespace ember::host

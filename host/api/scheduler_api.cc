// SchedulerApi: the schedule and schedule-group routes over ScheduleStore.
#include "host/api/scheduler_api.h"

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "host/api/lambda_json.h"
#include "host/api/schedule_json.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr int64_t kDefaultMaxResults = 100;

ApiError schedule_not_found(const std::string& name) {
  return resource_not_found("Schedule " + name + " does not exist.");
}

// MaxResults from the query: 1-100, kDefaultMaxResults when absent.
ApiResult<int64_t> max_results(const HttpRequest& request) {
  const std::string text = request.query_value("MaxResults");
  if (text.empty()) return kDefaultMaxResults;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return validation_error("MaxResults must be an integer from 1 to 100, not '" + text + "'");
  }
  if (value < 1 || value > 100) {
    return constraint_violation("maxResults", text,
                                value < 1 ? "Member must have value greater than or equal to 1"
                                          : "Member must have value less than or equal to 100");
  }
  return value;
}

// NamePrefix from the query, checked as the model's NamePrefix (1-64 of [0-9a-zA-Z-_.]).
ApiResult<std::string> name_prefix(const HttpRequest& request) {
  auto it = request.query.find("NamePrefix");
  if (it == request.query.end()) return std::string();
  EMBER_CHECK(check_schedule_name(it->second, "namePrefix"));
  return it->second;
}

ApiResult<std::string> next_token(const HttpRequest& request) {
  auto it = request.query.find("NextToken");
  if (it == request.query.end()) return std::string();
  if (it->second.empty() || it->second.size() > 2048) {
    return constraint_violation("nextToken", it->second,
                                "Member must have length between 1 and 2048");
  }
  return it->second;
}

json group_json(const std::string& region, int64_t created_s) {
  return {{"Arn", schedule_group_arn(region, "default")},
          {"CreationDate", created_s},
          {"LastModificationDate", created_s},
          {"Name", "default"},
          {"State", "ACTIVE"}};
}

}  // namespace

SchedulerApi::SchedulerApi(ScheduleStore& store, SchedulerApiOptions options,
                           std::function<void()> changed)
    : store_(store), options_(std::move(options)), changed_(std::move(changed)) {}

void SchedulerApi::add_routes(Router& router) {
  auto route =
      [this](HttpResponse (SchedulerApi::*method)(const HttpRequest&, const RouteParams&)) {
        return [this, method](const HttpRequest& request, const RouteParams& params) {
          return (this->*method)(request, params);
        };
      };
  router.add("POST", "/schedules/{Name}", route(&SchedulerApi::create_schedule));
  router.add("GET", "/schedules/{Name}", route(&SchedulerApi::get_schedule));
  router.add("PUT", "/schedules/{Name}", route(&SchedulerApi::update_schedule));
  router.add("DELETE", "/schedules/{Name}", route(&SchedulerApi::delete_schedule));
  router.add("GET", "/schedules", route(&SchedulerApi::list_schedules));
  router.add("GET", "/schedule-groups/{Name}", route(&SchedulerApi::get_group));
  router.add("GET", "/schedule-groups", route(&SchedulerApi::list_groups));
  router.add("POST", "/schedule-groups/{Name}", route(&SchedulerApi::create_group));
  router.add("DELETE", "/schedule-groups/{Name}", route(&SchedulerApi::delete_group));
}

int64_t SchedulerApi::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SchedulerApi::notify() const {
  if (changed_) changed_();
}

ApiError SchedulerApi::internal_error(const std::string& what, const Error& error) const {
  std::fprintf(stderr, "emberd: %s: %s\n", what.c_str(), error.message().c_str());
  return scheduler_internal(what + ": " + error.message());
}

ApiResult<ScheduleRecord> SchedulerApi::find(const HttpRequest& request,
                                             const RouteParams& params) {
  const std::string& name = params.at("Name");
  EMBER_CHECK(check_schedule_name(name, "name"));
  const std::string group = request.query_value("groupName");
  if (!group.empty()) EMBER_CHECK(check_schedule_name(group, "groupName"));
  EMBER_CHECK(check_default_group(group));
  auto record = store_.get(name);
  if (!record.ok()) {
    if (record.error().code == ENOENT) return schedule_not_found(name);
    return internal_error("read schedule " + name, record.error());
  }
  return std::move(record).value();
}

HttpResponse SchedulerApi::create_schedule(const HttpRequest& request, const RouteParams& params) {
  auto read = read_schedule(request.body, params.at("Name"));
  if (!read.ok()) return error_response(read.error());
  ScheduleRecord record = std::move(read).value();
  record.created_s = record.modified_s = now();
  const std::string arn = schedule_arn(options_.region, record.group, record.name);
  if (auto created = store_.create(record); !created.ok()) {
    if (created.error().code != EEXIST) {
      return error_response(internal_error("create schedule " + record.name, created.error()));
    }
    // A retry of a create that already succeeded (same ClientToken) succeeds again.
    auto existing = store_.get(record.name);
    if (!existing.ok() || record.client_token.empty() ||
        existing->client_token != record.client_token) {
      return error_response(scheduler_conflict("Schedule " + record.name + " already exists."));
    }
    return json_response(200, {{"ScheduleArn", arn}});
  }
  notify();
  return json_response(200, {{"ScheduleArn", arn}});
}

HttpResponse SchedulerApi::get_schedule(const HttpRequest& request, const RouteParams& params) {
  auto record = find(request, params);
  if (!record.ok()) return error_response(record.error());
  return json_response(200, schedule_json(*record, options_.region));
}

HttpResponse SchedulerApi::update_schedule(const HttpRequest& request, const RouteParams& params) {
  auto read = read_schedule(request.body, params.at("Name"));
  if (!read.ok()) return error_response(read.error());
  ScheduleRecord record = std::move(read).value();
  record.modified_s = now();
  auto updated = store_.update(record);
  if (!updated.ok()) {
    if (updated.error().code == ENOENT) return error_response(schedule_not_found(record.name));
    return error_response(internal_error("update schedule " + record.name, updated.error()));
  }
  notify();
  return json_response(200,
                       {{"ScheduleArn", schedule_arn(options_.region, record.group, record.name)}});
}

HttpResponse SchedulerApi::delete_schedule(const HttpRequest& request, const RouteParams& params) {
  const std::string& name = params.at("Name");
  if (auto checked = check_schedule_name(name, "name"); !checked.ok()) {
    return error_response(checked.error());
  }
  const std::string group = request.query_value("groupName");
  if (auto checked = check_default_group(group); !checked.ok()) {
    return error_response(checked.error());
  }
  auto removed = store_.remove(name);
  if (!removed.ok()) {
    if (removed.error().code == ENOENT) return error_response(schedule_not_found(name));
    return error_response(internal_error("delete schedule " + name, removed.error()));
  }
  notify();
  return json_response(200, json::object());
}

HttpResponse SchedulerApi::list_schedules(const HttpRequest& request, const RouteParams&) {
  auto limit = max_results(request);
  if (!limit.ok()) return error_response(limit.error());
  auto prefix = name_prefix(request);
  if (!prefix.ok()) return error_response(prefix.error());
  auto after = next_token(request);
  if (!after.ok()) return error_response(after.error());
  const std::string state = request.query_value("State");
  if (!state.empty() && state != "ENABLED" && state != "DISABLED") {
    return error_response(constraint_violation("state", state,
                                               "Member must satisfy enum value set: [ENABLED, "
                                               "DISABLED]"));
  }
  const std::string group = request.query_value("ScheduleGroup");
  if (auto checked = check_default_group(group); !checked.ok()) {
    return error_response(checked.error());
  }
  // One more than asked tells whether another page follows.
  auto records = store_.list(*after, *prefix, state, static_cast<size_t>(*limit) + 1);
  if (!records.ok()) return error_response(internal_error("list schedules", records.error()));
  json out = {{"Schedules", json::array()}};
  const size_t shown = std::min(records->size(), static_cast<size_t>(*limit));
  for (size_t i = 0; i < shown; ++i) {
    out["Schedules"].push_back(schedule_summary_json((*records)[i], options_.region));
  }
  if (records->size() > shown) out["NextToken"] = (*records)[shown - 1].name;
  return json_response(200, out);
}

HttpResponse SchedulerApi::get_group(const HttpRequest&, const RouteParams& params) {
  const std::string& name = params.at("Name");
  if (auto checked = check_schedule_name(name, "name"); !checked.ok()) {
    return error_response(checked.error());
  }
  if (name != "default") {
    return error_response(resource_not_found("Schedule group " + name + " does not exist."));
  }
  return json_response(200, group_json(options_.region, store_.default_group_created_s()));
}

HttpResponse SchedulerApi::list_groups(const HttpRequest& request, const RouteParams&) {
  auto limit = max_results(request);
  if (!limit.ok()) return error_response(limit.error());
  auto prefix = name_prefix(request);
  if (!prefix.ok()) return error_response(prefix.error());
  auto after = next_token(request);
  if (!after.ok()) return error_response(after.error());
  json out = {{"ScheduleGroups", json::array()}};
  // The one group is always on the first page.
  if (after->empty() && std::string_view("default").starts_with(*prefix)) {
    out["ScheduleGroups"].push_back(group_json(options_.region, store_.default_group_created_s()));
  }
  return json_response(200, out);
}

HttpResponse SchedulerApi::create_group(const HttpRequest&, const RouteParams& params) {
  const std::string& name = params.at("Name");
  if (auto checked = check_schedule_name(name, "name"); !checked.ok()) {
    return error_response(checked.error());
  }
  if (name == "default") {
    return error_response(scheduler_conflict("Schedule group default already exists."));
  }
  return error_response(validation_error(
      "Schedule group " + name +
      " cannot be created: Ember has only the default schedule group; create schedules "
      "without a GroupName"));
}

HttpResponse SchedulerApi::delete_group(const HttpRequest&, const RouteParams& params) {
  const std::string& name = params.at("Name");
  if (auto checked = check_schedule_name(name, "name"); !checked.ok()) {
    return error_response(checked.error());
  }
  if (name != "default") {
    return error_response(resource_not_found("Schedule group " + name + " does not exist."));
  }
  return error_response(validation_error("The default schedule group cannot be deleted."));
}

}  // namespace ember::host

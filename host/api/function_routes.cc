// CreateFunction, ListFunctions, GetFunction, GetFunctionConfiguration and DeleteFunction.
#include <cerrno>
#include <cstdio>

#include "host/api/function_validation.h"
#include "host/api/lambda_api.h"
#include "host/api/lambda_json.h"
#include "host/api/uuid.h"

namespace ember::host {
namespace {

using nlohmann::json;

constexpr size_t kMaxListItems = 50;

// The required string member `key` of a request, as ValidationException words its absence.
ApiResult<std::string> required_string(const json& body, const char* key, const char* field) {
  EMBER_TRY(std::string value, optional_string(body, key));
  if (value.empty()) {
    return validation_error(std::string("1 validation error detected: Value null at '") + field +
                            "' failed to satisfy constraint: Member must not be null");
  }
  return value;
}

// ApiResult<T> -> the response for its error.
template <typename T>
HttpResponse failed(const ApiResult<T>& result) {
  return error_response(result.error());
}

}  // namespace

HttpResponse LambdaApi::create_function(const HttpRequest& request, const Params&) {
  auto parsed = parse_request_object(request.body);
  if (!parsed.ok()) return failed(parsed);
  const json& body = parsed.value();

  auto given_name = required_string(body, "FunctionName", "functionName");
  if (!given_name.ok()) return failed(given_name);
  auto name = resolve_function_name(given_name.value(), "", options_.region);
  if (!name.ok()) return failed(name);

  FunctionRecord record;
  record.name = name.value();
  if (auto read = read_configuration_fields(body, record); !read.ok()) return failed(read);
  if (record.role.empty()) {
    return failed(required_string(body, "Role", "role"));
  }
  if (record.runtime.empty() || record.handler.empty()) {
    return error_response(
        invalid_parameter("Runtime and Handler are mandatory parameters for "
                          "functions created with deployment packages."));
  }
  if (auto checked = check_package_fields(body); !checked.ok()) return failed(checked);
  if (auto valid = validate_configuration(record); !valid.ok()) return failed(valid);
  auto code_object = body.find("Code");
  if (code_object == body.end() || !code_object->is_object()) {
    return error_response(validation_error(
        "1 validation error detected: Value null at 'code' failed to satisfy constraint: Member "
        "must not be null"));
  }
  auto zip = read_zip_file(*code_object, "Code.");
  if (!zip.ok()) return failed(zip);

  std::lock_guard lock(changes_mu_);
  const ApiError exists = resource_conflict("Function already exist: " + record.name);
  if (functions_.get(record.name).ok()) return error_response(exists);
  auto stored = store_code(zip.value());
  if (!stored.ok()) return failed(stored);
  record.code_sha256_hex = stored->sha256_hex;
  record.code_size = stored->size;
  record.last_modified_ms = unix_now_ms();
  record.revision_id = random_uuid();
  if (auto created = functions_.create(record); !created.ok()) {
    drop_code_if_unused(record.code_sha256_hex);
    if (created.error().code == EEXIST) return error_response(exists);
    return error_response(internal_error("create function " + record.name, created.error()));
  }
  std::fprintf(stderr, "emberd: created function %s (%s, %u MB, code %s)\n", record.name.c_str(),
               record.runtime.c_str(), record.memory_mb, record.code_sha256_hex.c_str());
  return json_response(201, configuration_json(record, options_.region));
}

HttpResponse LambdaApi::list_functions(const HttpRequest& request, const Params&) {
  size_t max_items = kMaxListItems;
  const std::string max_text = request.query_value("MaxItems");
  if (!max_text.empty()) {
    const bool digits =
        max_text.size() <= 9 && max_text.find_first_not_of("0123456789") == std::string::npos;
    const long value = digits ? std::stol(max_text) : -1;
    if (value < 1) {
      return error_response(constraint_violation(
          "maxItems", max_text, "Member must have value greater than or equal to 1"));
    }
    // Lambda returns at most 50 functions a page, whatever MaxItems says.
    max_items = std::min<size_t>(static_cast<size_t>(value), kMaxListItems);
  }
  auto page = functions_.list(request.query_value("Marker"), max_items + 1);
  if (!page.ok()) return error_response(internal_error("list functions", page.error()));
  json list = json::array();
  for (size_t i = 0; i < page->size() && i < max_items; ++i) {
    list.push_back(configuration_json((*page)[i], options_.region));
  }
  json body = {{"Functions", std::move(list)}};
  // The marker is the last name returned: the next page starts after it.
  if (page->size() > max_items) body["NextMarker"] = (*page)[max_items - 1].name;
  return json_response(200, body);
}

HttpResponse LambdaApi::get_function(const HttpRequest& request, const Params& params) {
  auto record = find_function(request, params);
  if (!record.ok()) return failed(record);
  std::string host = request.header("host");
  if (host.empty()) host = "localhost";
  const json body = {
      {"Configuration", configuration_json(record.value(), options_.region)},
      {"Code",
       {{"RepositoryType", "S3"},
        {"Location", "http://" + host + "/ember/v1/code/" + record->code_sha256_hex + ".zip"}}},
  };
  return json_response(200, body);
}

HttpResponse LambdaApi::get_configuration(const HttpRequest& request, const Params& params) {
  auto record = find_function(request, params);
  if (!record.ok()) return failed(record);
  return json_response(200, configuration_json(record.value(), options_.region));
}

HttpResponse LambdaApi::delete_function(const HttpRequest& request, const Params& params) {
  auto name =
      resolve_function_name(params.at("name"), request.query_value("Qualifier"), options_.region);
  if (!name.ok()) return failed(name);
  std::lock_guard lock(changes_mu_);
  auto removed = functions_.remove(name.value());
  if (!removed.ok()) {
    if (removed.error().code == ENOENT) {
      return error_response(function_not_found(options_.region, name.value()));
    }
    return error_response(internal_error("delete function " + name.value(), removed.error()));
  }
  invoker_.retire(name.value());
  for (const auto& hook : deletion_hooks_) hook(name.value());
  drop_code_if_unused(removed->code_sha256_hex);
  if (auto logs = logs_.remove(name.value()); !logs.ok()) {
    std::fprintf(stderr, "emberd: %s\n", logs.error().message().c_str());
  }
  std::fprintf(stderr, "emberd: deleted function %s\n", name.value().c_str());
  HttpResponse response;
  response.status = 204;
  return response;
}

}  // namespace ember::host

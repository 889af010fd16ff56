// Lambda's JSON shapes, both directions.
#include "host/api/lambda_json.h"

#include <time.h>

#include <cstdio>

#include "common/utc_time.h"
#include "host/api/function_validation.h"
#include "host/net/egress_policy.h"
#include "host/store/encoding.h"

namespace ember::host {
namespace {

using nlohmann::json;

ApiError wrong_type(const std::string& field, const char* expected) {
  return invalid_request_content("Could not parse request body into json: " + field + " must be " +
                                 expected);
}

ApiStatus read_string(const json& body, const char* key, std::string& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_string()) return wrong_type(key, "a string");
  out = it->get<std::string>();
  return {};
}

ApiStatus read_uint32(const json& body, const char* key, const std::string& field, uint32_t& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_number_integer()) return wrong_type(field, "an integer");
  const int64_t value = it->get<int64_t>();
  // Out-of-range values are kept recognisable for the range checks' messages.
  out = value < 0 ? 0 : value > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(value);
  return {};
}

// Finds an optional nested object, e.g. Environment; null counts as absent.
ApiResult<const json*> nested_object(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return static_cast<const json*>(nullptr);
  if (!it->is_object()) return wrong_type(key, "an object");
  return &*it;
}

}  // namespace

std::string lambda_timestamp(int64_t unix_ms) { return iso8601_utc(unix_ms, "+0000"); }

json configuration_json(const FunctionRecord& r, const std::string& region) {
  const auto digest = hex_decode(r.code_sha256_hex);
  json config{
      {"FunctionName", r.name},
      {"FunctionArn", function_arn(region, r.name)},
      {"Runtime", r.runtime},
      {"Role", r.role},
      {"Handler", r.handler},
      {"CodeSize", r.code_size},
      {"Description", r.description},
      {"Timeout", r.timeout_s},
      {"MemorySize", r.memory_mb},
      {"LastModified", lambda_timestamp(r.last_modified_ms)},
      {"CodeSha256", digest ? base64_encode(*digest) : std::string()},
      {"Version", "$LATEST"},
      {"Environment", {{"Variables", r.environment}}},
      {"TracingConfig", {{"Mode", r.tracing_mode}}},
      {"DeadLetterConfig",
       r.dead_letter_arn.empty() ? json::object() : json{{"TargetArn", r.dead_letter_arn}}},
      {"RevisionId", r.revision_id},
      {"State", "Active"},
      {"LastUpdateStatus", "Successful"},
      {"PackageType", "Zip"},
      {"Architectures", json::array({"x86_64"})},
      {"EphemeralStorage", {{"Size", r.ephemeral_mb}}},
      {"SnapStart", {{"ApplyOn", "None"}, {"OptimizationStatus", "Off"}}},
      {"LoggingConfig", {{"LogFormat", "Text"}, {"LogGroup", "/aws/lambda/" + r.name}}},
  };
  // Ember's own field (no Lambda field expresses an egress allowlist); absent: the default.
  if (!r.egress.empty()) config["Egress"] = r.egress;
  return config;
}

ApiResult<json> parse_request_object(std::string_view body) {
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    return invalid_request_content(
        "Could not parse request body into json: the body is not "
        "valid JSON");
  }
  if (!parsed.is_object()) {
    return invalid_request_content(
        "Could not parse request body into json: expected a JSON "
        "object");
  }
  return parsed;
}

ApiStatus read_configuration_fields(const json& body, FunctionRecord& r) {
  EMBER_CHECK(read_string(body, "Runtime", r.runtime));
  EMBER_CHECK(read_string(body, "Handler", r.handler));
  EMBER_CHECK(read_string(body, "Role", r.role));
  EMBER_CHECK(read_string(body, "Description", r.description));
  EMBER_CHECK(read_uint32(body, "MemorySize", "MemorySize", r.memory_mb));
  EMBER_CHECK(read_uint32(body, "Timeout", "Timeout", r.timeout_s));
  EMBER_TRY(const json* storage, nested_object(body, "EphemeralStorage"));
  if (storage != nullptr) {
    EMBER_CHECK(read_uint32(*storage, "Size", "EphemeralStorage.Size", r.ephemeral_mb));
  }
  EMBER_TRY(const json* environment, nested_object(body, "Environment"));
  if (environment != nullptr) {
    EMBER_TRY(const json* variables, nested_object(*environment, "Variables"));
    r.environment.clear();
    if (variables != nullptr) {
      for (const auto& [key, value] : variables->items()) {
        if (!value.is_string()) return wrong_type("Environment.Variables." + key, "a string");
        r.environment[key] = value.get<std::string>();
      }
    }
  }
  EMBER_TRY(const json* tracing, nested_object(body, "TracingConfig"));
  if (tracing != nullptr) EMBER_CHECK(read_string(*tracing, "Mode", r.tracing_mode));
  EMBER_TRY(const json* dead_letter, nested_object(body, "DeadLetterConfig"));
  if (dead_letter != nullptr) {
    r.dead_letter_arn.clear();  // {} removes the target, as in Lambda
    EMBER_CHECK(read_string(*dead_letter, "TargetArn", r.dead_letter_arn));
  }
  EMBER_CHECK(read_string(body, "Egress", r.egress));
  if (!r.egress.empty()) {
    auto policy = net::parse_egress_policy(r.egress);
    if (!policy.ok()) return invalid_parameter("Egress: " + policy.error().message());
    r.egress = net::format_egress_policy(*policy);
  }
  return {};
}

ApiResult<std::string> read_zip_file(const json& object, const std::string& where) {
  for (const char* unsupported : {"S3Bucket", "S3Key", "S3ObjectVersion"}) {
    if (object.contains(unsupported)) {
      return invalid_parameter(
          "Ember does not fetch code from S3; send the deployment package "
          "in " +
          where + "ZipFile");
    }
  }
  if (object.contains("ImageUri")) {
    return invalid_parameter("Ember runs .zip deployment packages only, not container images");
  }
  auto it = object.find("ZipFile");
  if (it == object.end() || it->is_null()) {
    return invalid_parameter("Please provide a source for function code: " + where + "ZipFile");
  }
  if (!it->is_string()) return wrong_type(where + "ZipFile", "a base64 string");
  auto zip = base64_decode(it->get_ref<const std::string&>());
  if (!zip) {
    return invalid_request_content("Could not parse request body into json: " + where +
                                   "ZipFile is not valid base64");
  }
  return std::move(*zip);
}

ApiStatus check_package_fields(const json& body) {
  auto package_type = body.find("PackageType");
  if (package_type != body.end() && !package_type->is_null() && *package_type != "Zip") {
    return invalid_parameter("Ember runs .zip deployment packages only (PackageType Zip)");
  }
  auto architectures = body.find("Architectures");
  if (architectures != body.end() && !architectures->is_null() &&
      *architectures != json::array({"x86_64"})) {
    return invalid_parameter("Ember runs x86_64 functions only (Architectures [\"x86_64\"])");
  }
  return {};
}

HttpResponse json_response(int status, const json& body) {
  HttpResponse response;
  response.status = status;
  response.set_header("Content-Type", "application/json");
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

ApiResult<std::string> optional_string(const json& object, const char* key) {
  std::string value;
  EMBER_CHECK(read_string(object, key, value));
  return value;
}

}  // namespace ember::host

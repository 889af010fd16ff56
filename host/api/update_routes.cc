// UpdateFunctionCode and UpdateFunctionConfiguration: a new revision of $LATEST.
#include <cerrno>
#include <cstdio>

#include "host/api/function_validation.h"
#include "host/api/lambda_api.h"
#include "host/api/lambda_json.h"
#include "host/api/uuid.h"

namespace ember::host {
namespace {

using nlohmann::json;

// RevisionId in the body, when given, must name the current revision.
ApiStatus check_revision(const json& body, const FunctionRecord& current) {
  EMBER_TRY(const std::string expected, optional_string(body, "RevisionId"));
  if (!expected.empty() && expected != current.revision_id) {
    return precondition_failed(
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/"
        "GetAlias API to retrieve the latest Revision Id");
  }
  return {};
}

ApiResult<bool> optional_bool(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) {
    return invalid_request_content(std::string("Could not parse request body into json: ") + key +
                                   " must be a boolean");
  }
  return it->get<bool>();
}

}  // namespace

HttpResponse LambdaApi::update_code(const HttpRequest& request, const Params& params) {
  auto parsed = parse_request_object(request.body);
  if (!parsed.ok()) return error_response(parsed.error());
  const json& body = parsed.value();
  if (auto checked = check_package_fields(body); !checked.ok()) {
    return error_response(checked.error());
  }
  auto dry_run = optional_bool(body, "DryRun");
  if (!dry_run.ok()) return error_response(dry_run.error());
  auto zip = read_zip_file(body, "");
  if (!zip.ok()) return error_response(zip.error());
  if (dry_run.value()) {
    auto checked = check_zip(zip.value(), options_.zip_limits);
    if (!checked.ok()) return error_response(invalid_parameter(checked.error().context));
  }

  std::lock_guard lock(changes_mu_);
  auto current = find_function(request, params);
  if (!current.ok()) return error_response(current.error());
  if (auto revision = check_revision(body, current.value()); !revision.ok()) {
    return error_response(revision.error());
  }
  if (dry_run.value()) return json_response(200, configuration_json(*current, options_.region));

  auto stored = store_code(zip.value());
  if (!stored.ok()) return error_response(stored.error());
  FunctionRecord updated = current.value();
  updated.code_sha256_hex = stored->sha256_hex;
  updated.code_size = stored->size;
  updated.last_modified_ms = unix_now_ms();
  updated.revision_id = random_uuid();
  if (auto saved = functions_.update(updated); !saved.ok()) {
    drop_code_if_unused(updated.code_sha256_hex);
    if (saved.error().code == ENOENT) {
      return error_response(function_not_found(options_.region, updated.name));
    }
    return error_response(internal_error("update code of " + updated.name, saved.error()));
  }
  invoker_.retire(updated.name);
  if (current->code_sha256_hex != updated.code_sha256_hex) {
    drop_code_if_unused(current->code_sha256_hex);
  }
  std::fprintf(stderr, "emberd: updated code of %s (code %s)\n", updated.name.c_str(),
               updated.code_sha256_hex.c_str());
  return json_response(200, configuration_json(updated, options_.region));
}

HttpResponse LambdaApi::update_configuration(const HttpRequest& request, const Params& params) {
  auto parsed = parse_request_object(request.body);
  if (!parsed.ok()) return error_response(parsed.error());
  const json& body = parsed.value();

  std::lock_guard lock(changes_mu_);
  auto current = find_function(request, params);
  if (!current.ok()) return error_response(current.error());
  if (auto revision = check_revision(body, current.value()); !revision.ok()) {
    return error_response(revision.error());
  }
  FunctionRecord updated = current.value();
  if (auto read = read_configuration_fields(body, updated); !read.ok()) {
    return error_response(read.error());
  }
  if (auto valid = validate_configuration(updated); !valid.ok()) {
    return error_response(valid.error());
  }
  updated.last_modified_ms = unix_now_ms();
  updated.revision_id = random_uuid();
  if (auto saved = functions_.update(updated); !saved.ok()) {
    if (saved.error().code == ENOENT) {
      return error_response(function_not_found(options_.region, updated.name));
    }
    return error_response(internal_error("update configuration of " + updated.name, saved.error()));
  }
  invoker_.retire(updated.name);
  std::fprintf(stderr, "emberd: updated configuration of %s\n", updated.name.c_str());
  return json_response(200, configuration_json(updated, options_.region));
}

}  // namespace ember::host

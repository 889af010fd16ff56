// Lambda's JSON shapes: FunctionConfiguration out, CreateFunction/Update* fields in.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "host/api/api_error.h"
#include "host/api/http_message.h"
#include "host/store/function_record.h"

namespace ember::host {

// Lambda's LastModified format: "2026-11-23T10:00:00.000+0000" (UTC).
std::string lambda_timestamp(int64_t unix_ms);

// The FunctionConfiguration object of Lambda's API for the $LATEST version: State
// "Active" and LastUpdateStatus "Successful" always (changes are synchronous), so boto3's
// function_active_v2 and function_updated_v2 waiters return at once.
nlohmann::json configuration_json(const FunctionRecord& record, const std::string& region);

// The request body as a JSON object; anything else is InvalidRequestContentException.
ApiResult<nlohmann::json> parse_request_object(std::string_view body);

// Copies the configuration fields present in `body` onto record: Runtime, Handler, Role,
// Description, MemorySize, Timeout, EphemeralStorage.Size, Environment.Variables (replacing
// all variables), TracingConfig.Mode. A field of the wrong JSON type is
// InvalidRequestContentException; values are checked later by validate_configuration().
ApiStatus read_configuration_fields(const nlohmann::json& body, FunctionRecord& record);

// The deployment package from a "ZipFile" member (base64) of `object`; the member is
// required. S3 and image locations are refused with InvalidParameterValueException.
ApiResult<std::string> read_zip_file(const nlohmann::json& object, const std::string& where);

// Refuses Architectures other than ["x86_64"] and PackageType other than "Zip".
ApiStatus check_package_fields(const nlohmann::json& body);

// A response with a JSON body (Content-Type: application/json).
HttpResponse json_response(int status, const nlohmann::json& body);

// Reads an optional string member; InvalidRequestContentException when it is not a string.
ApiResult<std::string> optional_string(const nlohmann::json& object, const char* key);

}  // namespace ember::host

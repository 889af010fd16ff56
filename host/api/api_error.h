// ApiError: an error answered the way Lambda does, and ApiResult<T>, a value or an ApiError.
#pragma once

#include <string>

#include "common/result.h"  // EMBER_TRY and EMBER_CHECK work on ApiResult too
#include "host/api/http_message.h"

namespace ember::host {

// Answered as HTTP `status` with header x-amzn-ErrorType: <type> and body
// {"Type":"User"|"Service","Message":..., "message":...}. botocore takes the error code from
// the header, so boto3 raises client.exceptions.<type>.
struct ApiError {
  int status = 500;
  std::string type;
  std::string message;
};

// Lambda's error types, with their statuses.
ApiError resource_not_found(std::string message);             // 404
ApiError resource_conflict(std::string message);              // 409
ApiError invalid_parameter(std::string message);              // 400 InvalidParameterValueException
ApiError validation_error(std::string message);               // 400 ValidationException
ApiError invalid_request_content(std::string message);        // 400
ApiError request_too_large(std::string message);              // 413 RequestTooLargeException
ApiError precondition_failed(std::string message);            // 412
ApiError too_many_requests(std::string message);              // 429
ApiError service_error(std::string message);                  // 500 ServiceException
ApiError unknown_operation(int status, std::string message);  // 404/405 unknown routes

// ValidationException's message for one failed constraint, as Lambda words it:
// "1 validation error detected: Value '<value>' at '<field>' failed to satisfy constraint:
// <constraint>".
ApiError constraint_violation(const std::string& field, const std::string& value,
                              const std::string& constraint);

HttpResponse error_response(const ApiError& error);

// A value or an ApiError; EMBER_TRY and EMBER_CHECK work on it as on Result.
template <typename T>
using ApiResult = Result<T, ApiError>;
using ApiStatus = ApiResult<void>;

}  // namespace ember::host

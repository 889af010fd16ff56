// ApiError constructors and the Lambda-shaped error response.
#include "host/api/api_error.h"

#include <nlohmann/json.hpp>

namespace ember::host {

ApiError resource_not_found(std::string message) {
  return {404, "ResourceNotFoundException", std::move(message)};
}
ApiError resource_conflict(std::string message) {
  return {409, "ResourceConflictException", std::move(message)};
}
ApiError invalid_parameter(std::string message) {
  return {400, "InvalidParameterValueException", std::move(message)};
}
ApiError validation_error(std::string message) {
  return {400, "ValidationException", std::move(message)};
}
ApiError invalid_request_content(std::string message) {
  return {400, "InvalidRequestContentException", std::move(message)};
}
ApiError request_too_large(std::string message) {
  return {413, "RequestTooLargeException", std::move(message)};
}
ApiError precondition_failed(std::string message) {
  return {412, "PreconditionFailedException", std::move(message)};
}
ApiError too_many_requests(std::string message) {
  return {429, "TooManyRequestsException", std::move(message)};
}
ApiError service_error(std::string message) {
  return {500, "ServiceException", std::move(message)};
}
ApiError unknown_operation(int status, std::string message) {
  return {status, "UnknownOperationException", std::move(message)};
}

ApiError constraint_violation(const std::string& field, const std::string& value,
                              const std::string& constraint) {
  return validation_error("1 validation error detected: Value '" + value + "' at '" + field +
                          "' failed to satisfy constraint: " + constraint);
}

HttpResponse error_response(const ApiError& error) {
  HttpResponse response;
  response.status = error.status;
  response.set_header("x-amzn-ErrorType", error.type);
  response.set_header("Content-Type", "application/json");
  // Lambda's error shapes name the message "Message" or "message" depending on the type;
  // both are sent so every SDK finds it.
  const nlohmann::json body = {{"Type", error.status >= 500 ? "Service" : "User"},
                               {"Message", error.message},
                               {"message", error.message}};
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

}  // namespace ember::host

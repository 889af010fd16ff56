// The Invoker's out-of-line destructor and the mapping of invoker errors to Lambda's types.
#include "host/api/invoker.h"

#include <cerrno>

namespace ember::host {

Invoker::~Invoker() = default;

void Invoker::invoke_async(InvokeRequest request, InvokeDone done) { done(invoke(request)); }

InvokeErrorType invoke_error_type(const Error& error) {
  return error.code == EAGAIN ? InvokeErrorType::kTooManyRequests
                              : InvokeErrorType::kServiceException;
}

Error invoke_error(InvokeErrorType type, std::string op, std::string context) {
  Error error = make_error(std::move(op), std::move(context));
  if (type == InvokeErrorType::kTooManyRequests) error.code = EAGAIN;
  return error;
}

}  // namespace ember::host

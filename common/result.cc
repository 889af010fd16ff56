// Formatting and construction of ember::Error.
#include "common/result.h"

namespace ember {

std::string Error::message() const {
  std::string out = op;
  if (!context.empty()) out += (out.empty() ? "" : ": ") + context;
  if (code != 0) out += (out.empty() ? "" : ": ") + std::string(std::strerror(code));
  return out;
}

Error errno_error(std::string op, std::string context) {
  return Error{errno, std::move(op), std::move(context)};
}

Error make_error(std::string op, std::string context) {
  return Error{0, std::move(op), std::move(context)};
}

}  // namespace ember

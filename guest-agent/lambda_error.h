// Lambda's error documents: JSON bodies, error types, and how a runtime's exit is described.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ember::agent {

// How the runtime process ended.
struct RuntimeExit {
  int exit_code = -1;          // valid when term_signal == 0
  int term_signal = 0;         // the signal that killed it, 0 if it exited
  bool out_of_memory = false;  // SIGKILL while the kernel's oom_kill count went up
};

// "Runtime.OutOfMemory" or "Runtime.ExitError".
const char* exit_error_type(const RuntimeExit& exit);
// Lambda's wording: "Runtime exited with error: exit status 2", "Runtime exited with error:
// signal: killed", or "Runtime exited without providing a reason" for status 0.
std::string describe_exit(const RuntimeExit& exit);

// A JSON string literal, quotes included. Control characters, '"' and '\' are escaped;
// other bytes pass through unchanged.
std::string json_quote(std::string_view text);
// {"errorMessage":<message>,"errorType":<type>}
std::string lambda_error_json(std::string_view error_type, std::string_view message);

// The error type of an error a runtime posted: the Lambda-Runtime-Function-Error-Type header
// when present and not empty, else the body's top-level "errorType" string, else "Unhandled".
std::string posted_error_type(std::optional<std::string_view> header, std::string_view body);

}  // namespace ember::agent

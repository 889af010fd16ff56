// vm_control_request: one request on a running ember-vmm's control socket (--api-sock).
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"

namespace ember::host {

// Connects to api_sock (retrying while the VMM is still creating it), sends one JSON line
// (docs/vmm-interfaces.md) and returns the reply line without its newline. The whole
// exchange is bounded by timeout.
Result<std::string> vm_control_request(const std::string& api_sock, const std::string& request_json,
                                       std::chrono::milliseconds timeout);

// For pause, resume and snapshot: fails unless the reply is exactly {"ok":true}; the error
// carries the VMM's own answer.
Status vm_control_ok(const std::string& api_sock, const std::string& request_json,
                     std::chrono::milliseconds timeout);

}  // namespace ember::host

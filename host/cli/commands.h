// run(): carries out one parsed `ember` command against emberd and prints the outcome.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "host/cli/command_line.h"
#include "host/cli/http_client.h"

namespace ember::cli {

enum class ExitCode : int { kOk = 0, kError = 1, kUsage = 2 };

// Runs the command: the result on stdout, diagnostics on stderr. kError when emberd
// cannot be reached, answers an error, or the invoked function failed.
ExitCode run(const CommandLine& line);

// The request bodies, apart from running them (tested on their own).
nlohmann::json create_request(const std::string& name, const FunctionSettings& settings,
                              const std::string& zip);
nlohmann::json update_config_request(const FunctionSettings& settings);

// The request of `ember invoke`, its payload already read.
HttpRequest invoke_request(const std::string& name, const InvokeOptions& options,
                           std::string payload);

}  // namespace ember::cli

// CommandLine: the `ember` command line (Boost.Program_options) parsed into plain structs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "host/cli/endpoint.h"

namespace ember::cli {

inline constexpr char kDefaultSocket[] = "/run/ember/ember.sock";

enum class Command {
  kCreate,
  kUpdateCode,
  kUpdateConfig,
  kGet,
  kList,
  kDelete,
  kInvoke,
  kLogs,
  kQueue,
  kMappings,
};

// Configuration fields of create and update-config; unset fields are not sent.
struct FunctionSettings {
  std::optional<std::string> runtime;
  std::optional<std::string> handler;
  std::optional<std::string> description;
  std::optional<std::string> role;
  std::optional<uint32_t> memory_mb;
  std::optional<uint32_t> timeout_s;
  std::optional<uint32_t> tmp_mb;                         // EphemeralStorage.Size
  std::optional<std::map<std::string, std::string>> env;  // replaces all variables
  std::optional<std::string> egress;  // Ember's Egress field; "default" sends "" (emberd's)
};

// Exactly one of the two is set for create and update-code.
struct CodeSource {
  std::string dir;       // --code: zipped in memory
  std::string zip_file;  // --zip: sent as it is
};

struct InvokeOptions {
  std::optional<std::string> payload;       // --payload JSON ("-": stdin)
  std::optional<std::string> payload_file;  // --payload-file FILE ("-": stdin)
  bool tail = false;
  bool timing = false;
  bool dry_run = false;
  bool async = false;  // X-Amz-Invocation-Type: Event; excludes the three above
};

struct CommandLine {
  Command command = Command::kList;
  // --endpoint or --socket, else $EMBER_ENDPOINT, else $EMBER_SOCKET, else kDefaultSocket.
  Endpoint endpoint = Endpoint::unix_socket(kDefaultSocket);
  // --region: the region TCP requests are signed for; empty: $AWS_REGION, else
  // $AWS_DEFAULT_REGION, else us-east-1 (see signing_region()).
  std::string region;
  bool json = false;
  std::string name;  // the function, for every command but list and mappings
  FunctionSettings settings;
  CodeSource code;
  InvokeOptions invoke;
  bool follow = false;  // logs --follow
  // mappings: one mapping's UUID (empty: list them all), and --function (FunctionName=).
  std::string mapping_uuid;
  std::string mapping_function;
};

struct ParseOutcome {
  enum class Kind { kRun, kHelp, kUsageError };
  Kind kind = Kind::kUsageError;
  CommandLine line;     // kRun
  std::string message;  // kUsageError: what is wrong, one line
  std::string usage;    // the usage of the command named (or of ember as a whole)
};

// Parses args (without argv[0]). Global flags may stand before or after the command.
// env_socket is $EMBER_SOCKET and env_endpoint $EMBER_ENDPOINT (nullptr or empty: unset).
ParseOutcome parse_command_line(const std::vector<std::string>& args, const char* env_socket,
                                const char* env_endpoint);

// The usage of `ember` as a whole: synopsis, commands, global flags.
std::string general_usage();

// The runtimes create and update-config accept.
const std::vector<std::string>& known_runtimes();

}  // namespace ember::cli

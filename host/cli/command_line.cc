// parse_command_line(): one Program_options description per command plus the global flags.
#include "host/cli/command_line.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <sstream>

namespace po = boost::program_options;

namespace ember::cli {
namespace {

constexpr unsigned kLineLength = 100;

// The positional argument a command takes after its name.
enum class Operand {
  kNone,
  kFunction,     // NAME, required
  kMappingUuid,  // UUID, optional
};

struct CommandSpec {
  const char* name;
  Command command;
  const char* synopsis;  // after "ember NAME"; continuation lines indented under it
  const char* summary;
  Operand operand;
};

constexpr CommandSpec kCommands[] = {
    {"create", Command::kCreate,
     "NAME --runtime RUNTIME --handler HANDLER (--code DIR | --zip FILE) [options]",
     "create a function from a directory (zipped in memory) or a .zip file", Operand::kFunction},
    {"update-code", Command::kUpdateCode, "NAME (--code DIR | --zip FILE)",
     "replace a function's code", Operand::kFunction},
    {"update-config", Command::kUpdateConfig, "NAME [options]", "change a function's configuration",
     Operand::kFunction},
    {"get", Command::kGet, "NAME", "show a function's configuration", Operand::kFunction},
    {"list", Command::kList, "", "list all functions", Operand::kNone},
    {"delete", Command::kDelete, "NAME", "delete a function", Operand::kFunction},
    {"invoke", Command::kInvoke,
     "NAME [--payload JSON | --payload-file FILE]\n"
     "                    [--async | [--tail] [--timing] [--dry-run]]",
     "run a function and print its response, or queue an event (--async)", Operand::kFunction},
    {"logs", Command::kLogs, "NAME [--follow]", "print a function's logs", Operand::kFunction},
    {"queue", Command::kQueue, "NAME",
     "show a function's async event queue and its recently finished events", Operand::kFunction},
    {"mappings", Command::kMappings, "[--function NAME | UUID]",
     "list event source mappings with their lag and throughput, or show one (UUID)",
     Operand::kMappingUuid},
};

po::options_description global_options() {
  po::options_description d("Global options", kLineLength);
  // clang-format off
  d.add_options()
      ("socket", po::value<std::string>()->value_name("PATH"),
       "emberd's Unix socket (default: $EMBER_SOCKET, else /run/ember/ember.sock)")
      ("endpoint", po::value<std::string>()->value_name("URL"),
       "emberd over TCP instead (emberd --listen HOST:PORT): http://HOST:PORT or HOST:PORT, "
       "[ADDR]:PORT for IPv6, plain HTTP only (default: $EMBER_ENDPOINT, which beats "
       "$EMBER_SOCKET)")
      ("region", po::value<std::string>()->value_name("REGION"),
       "with --endpoint: the region requests are signed for, emberd's --region (default: "
       "$AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1); the key is "
       "$AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else profile $AWS_PROFILE (else "
       "default) of ~/.aws/credentials")
      ("json", po::bool_switch(), "print emberd's raw JSON responses, for scripts")
      ("help,h", "show this help");
  // clang-format on
  return d;
}

void add_code_options(po::options_description& d) {
  // clang-format off
  d.add_options()
      ("code", po::value<std::string>()->value_name("DIR"),
       "directory to zip and upload (exec bits and symbolic links are kept)")
      ("zip", po::value<std::string>()->value_name("FILE"), "ready .zip file to upload");
  // clang-format on
}

// creating: for create, where the role has a default.
void add_settings_options(po::options_description& d, bool creating) {
  // clang-format off
  d.add_options()
      ("runtime", po::value<std::string>()->value_name("RUNTIME"),
       "python3.11, nodejs18.x, provided or provided.al2")
      ("handler", po::value<std::string>()->value_name("HANDLER"),
       "entry point, e.g. app.handler (module.function)")
      ("memory", po::value<std::string>()->value_name("MB"), "memory in MB, 128..10240")
      ("timeout", po::value<std::string>()->value_name("S"), "timeout in seconds, 1..900")
      ("tmp", po::value<std::string>()->value_name("MB"), "size of /tmp in MB, 512..10240")
      ("env", po::value<std::vector<std::string>>()->composing()->value_name("K=V"),
       "environment variable, repeatable; the set given replaces all")
      ("description", po::value<std::string>()->value_name("TEXT"), "free text")
      ("egress", po::value<std::string>()->value_name("POLICY"),
       "where the function may connect: none, internet, CIDR[:PORT[-PORT]],... (an "
       "allowlist), or default (emberd's --egress-default)")
      ("role", po::value<std::string>()->value_name("ARN"),
       creating ? "execution role (default arn:aws:iam::000000000000:role/ember)"
                : "execution role");
  // clang-format on
}

po::options_description command_options(Command command) {
  po::options_description d("Options", kLineLength);
  switch (command) {
    case Command::kCreate:
      add_settings_options(d, true);
      add_code_options(d);
      break;
    case Command::kUpdateCode:
      add_code_options(d);
      break;
    case Command::kUpdateConfig:
      add_settings_options(d, false);
      break;
    case Command::kInvoke:
      // clang-format off
      d.add_options()
          ("payload", po::value<std::string>()->value_name("JSON"),
           "event to send (\"-\": read stdin); without --payload or --payload-file, stdin "
           "is read when it is not a terminal, else {} is sent")
          ("payload-file", po::value<std::string>()->value_name("FILE"),
           "read the event from FILE (\"-\": stdin)")
          ("tail", po::bool_switch(), "print the last 4 KB of the invocation's log to stderr")
          ("timing", po::bool_switch(), "print where the time went (cold/warm start) to stderr")
          ("dry-run", po::bool_switch(), "check that the function could be invoked, run nothing")
          ("async", po::bool_switch(),
           "queue the event (X-Amz-Invocation-Type: Event) and print its request id; emberd "
           "runs it later, with retries (see `ember queue NAME`)");
      // clang-format on
      break;
    case Command::kLogs:
      d.add_options()("follow,f", po::bool_switch(), "keep printing new lines until Ctrl-C");
      break;
    case Command::kMappings:
      d.add_options()("function", po::value<std::string>()->value_name("NAME"),
                      "only the mappings of this function (a name or an ARN)");
      break;
    case Command::kGet:
    case Command::kList:
    case Command::kDelete:
    case Command::kQueue:
      break;
  }
  return d;
}

std::string command_usage(const CommandSpec& spec) {
  std::ostringstream out;
  out << "Usage: ember " << spec.name;
  if (*spec.synopsis) out << " " << spec.synopsis;
  out << "\n\n"
      << static_cast<char>(std::toupper(spec.summary[0])) << (spec.summary + 1) << ".\n\n";
  const auto options = command_options(spec.command);
  if (!options.options().empty()) out << options << "\n";
  out << global_options() << "\n";
  return out.str();
}

const CommandSpec* find_spec(const std::string& name) {
  for (const auto& spec : kCommands) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

// Index of the command word: the first argument that is neither a flag nor the value of
// --socket, --endpoint or --region (the global flags taking a value).
std::optional<size_t> find_command(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--socket" || args[i] == "--endpoint" || args[i] == "--region") {
      ++i;
    } else if (args[i] == "--") {
      return i + 1 < args.size() ? std::optional<size_t>(i + 1) : std::nullopt;
    } else if (args[i].empty() || args[i][0] != '-') {
      return i;
    }
  }
  return std::nullopt;
}

bool wants_help(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(),
                     [](const std::string& a) { return a == "--help" || a == "-h"; });
}

ParseOutcome usage_error(std::string message, std::string usage) {
  ParseOutcome outcome;
  outcome.kind = ParseOutcome::Kind::kUsageError;
  outcome.message = std::move(message);
  outcome.usage = std::move(usage);
  return outcome;
}

// A whole number in [1, UINT32_MAX]; the daemon checks Lambda's ranges.
std::optional<uint32_t> parse_count(const std::string& text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

// Where emberd is: --endpoint or --socket (not both), else $EMBER_ENDPOINT, else
// $EMBER_SOCKET, else the default socket. An error message, or empty.
std::string read_endpoint(const po::variables_map& vm, const char* env_socket,
                          const char* env_endpoint, Endpoint& endpoint) {
  const bool socket = vm.count("socket") > 0, tcp = vm.count("endpoint") > 0;
  if (socket && tcp) return "give either --socket PATH or --endpoint URL, not both";
  if (socket) {
    const std::string& path = vm["socket"].as<std::string>();
    if (path.empty()) return "--socket needs a path";
    endpoint = Endpoint::unix_socket(path);
    return {};
  }
  std::string_view source = "--endpoint ";
  std::string url;
  if (tcp) {
    url = vm["endpoint"].as<std::string>();
    if (url.empty()) return "--endpoint needs a URL, e.g. http://127.0.0.1:9000";
  } else if (env_endpoint && *env_endpoint) {
    source = "EMBER_ENDPOINT ";
    url = env_endpoint;
  } else {
    endpoint = Endpoint::unix_socket(env_socket && *env_socket ? env_socket : kDefaultSocket);
    return {};
  }
  auto parsed = parse_endpoint(url);
  if (!parsed.ok()) return std::string(source) + parsed.error().message();
  endpoint = std::move(parsed).value();
  return {};
}

// Fills settings from the flags; an error message, or empty.
std::string read_settings(const po::variables_map& vm, FunctionSettings& s) {
  auto text = [&vm](const char* flag, std::optional<std::string>& field) {
    if (vm.count(flag)) field = vm[flag].as<std::string>();
  };
  text("runtime", s.runtime);
  text("handler", s.handler);
  text("description", s.description);
  text("role", s.role);
  text("egress", s.egress);
  if (s.egress && s.egress->empty()) return "--egress needs a policy: none, internet or CIDR[:PORT]";
  if (s.runtime) {
    const auto& runtimes = known_runtimes();
    if (std::find(runtimes.begin(), runtimes.end(), *s.runtime) == runtimes.end()) {
      return "--runtime must be python3.11, nodejs18.x, provided or provided.al2, not '" +
             *s.runtime + "'";
    }
  }
  if (s.handler && s.handler->empty()) return "--handler must not be empty";
  struct Number {
    const char* flag;
    std::optional<uint32_t>* field;
    const char* unit;
  };
  for (const Number& n :
       {Number{"memory", &s.memory_mb, "MB"}, Number{"timeout", &s.timeout_s, "seconds"},
        Number{"tmp", &s.tmp_mb, "MB"}}) {
    if (!vm.count(n.flag)) continue;
    const std::string& value = vm[n.flag].as<std::string>();
    *n.field = parse_count(value);
    if (!*n.field) {
      return std::string("--") + n.flag + " takes a whole number of " + n.unit + ", not '" + value +
             "'";
    }
  }
  if (vm.count("env")) {
    std::map<std::string, std::string> env;
    for (const std::string& pair : vm["env"].as<std::vector<std::string>>()) {
      const size_t eq = pair.find('=');
      if (eq == std::string::npos || eq == 0) return "--env takes KEY=VALUE, not '" + pair + "'";
      if (!env.emplace(pair.substr(0, eq), pair.substr(eq + 1)).second) {
        return "--env " + pair.substr(0, eq) + " is given twice";
      }
    }
    s.env = std::move(env);
  }
  return {};
}

// Checks --code/--zip: exactly one of them.
std::string read_code(const po::variables_map& vm, CodeSource& code) {
  if (vm.count("code") && vm.count("zip")) return "give either --code or --zip, not both";
  if (!vm.count("code") && !vm.count("zip"))
    return "the code is missing: give --code DIR or --zip FILE";
  if (vm.count("code")) code.dir = vm["code"].as<std::string>();
  if (vm.count("zip")) code.zip_file = vm["zip"].as<std::string>();
  if (code.dir.empty() && code.zip_file.empty()) return "--code and --zip need a path";
  return {};
}

// The command's own checks once the flags are stored; an error message, or empty.
std::string read_command(const po::variables_map& vm, CommandLine& line) {
  switch (line.command) {
    case Command::kCreate: {
      if (std::string e = read_settings(vm, line.settings); !e.empty()) return e;
      if (!line.settings.runtime) return "--runtime is required";
      if (!line.settings.handler) return "--handler is required";
      return read_code(vm, line.code);
    }
    case Command::kUpdateCode:
      return read_code(vm, line.code);
    case Command::kUpdateConfig: {
      if (std::string e = read_settings(vm, line.settings); !e.empty()) return e;
      const FunctionSettings& s = line.settings;
      if (!s.runtime && !s.handler && !s.description && !s.role && !s.memory_mb && !s.timeout_s &&
          !s.tmp_mb && !s.env && !s.egress) {
        return "nothing to update: give at least one option";
      }
      return {};
    }
    case Command::kInvoke: {
      InvokeOptions& o = line.invoke;
      if (vm.count("payload")) o.payload = vm["payload"].as<std::string>();
      if (vm.count("payload-file")) o.payload_file = vm["payload-file"].as<std::string>();
      if (o.payload && o.payload_file) return "give either --payload or --payload-file, not both";
      o.tail = vm["tail"].as<bool>();
      o.timing = vm["timing"].as<bool>();
      o.dry_run = vm["dry-run"].as<bool>();
      o.async = vm["async"].as<bool>();
      if (o.async && o.dry_run) {
        return "--async and --dry-run are different invocation types (Event, DryRun): give one";
      }
      if (o.async && o.tail) {
        return "--async cannot be used with --tail: an event runs later, so its log is not in the "
               "answer (read it with `ember logs NAME`)";
      }
      if (o.async && o.timing) {
        return "--async cannot be used with --timing: an event runs later, so the answer has no "
               "timing";
      }
      return {};
    }
    case Command::kLogs:
      line.follow = vm["follow"].as<bool>();
      return {};
    case Command::kMappings:
      if (!vm.count("function")) return {};
      line.mapping_function = vm["function"].as<std::string>();
      if (line.mapping_function.empty()) return "--function needs a function's name or ARN";
      if (!line.mapping_uuid.empty()) {
        return "give either a mapping's UUID or --function NAME, not both (one mapping's lines "
               "name its function)";
      }
      return {};
    case Command::kGet:
    case Command::kList:
    case Command::kDelete:
    case Command::kQueue:
      return {};
  }
  return {};
}

}  // namespace

const std::vector<std::string>& known_runtimes() {
  static const std::vector<std::string> runtimes = {"python3.11", "nodejs18.x", "provided",
                                                    "provided.al2"};
  return runtimes;
}

std::string general_usage() {
  std::ostringstream out;
  out << "Usage: ember [--socket PATH | --endpoint URL [--region REGION]] [--json] COMMAND "
         "[ARGS]\n\n"
      << "Talks to emberd, Ember's daemon, over its Unix socket or over TCP (emberd --listen)\n"
      << "with AWS Lambda's REST API.\n\n"
      << "Commands:\n";
  for (const auto& spec : kCommands) {
    std::string left = std::string("  ") + spec.name;
    left.resize(17, ' ');
    out << left << spec.summary << "\n";
  }
  out << "\nRun 'ember COMMAND --help' for a command's options.\n\n" << global_options();
  out << "\nExit codes: 0 success, 1 error (from emberd, the function, or reaching emberd), "
         "2 usage error.\n";
  return out.str();
}

ParseOutcome parse_command_line(const std::vector<std::string>& args, const char* env_socket,
                                const char* env_endpoint) {
  const auto index = find_command(args);
  if (!index) {
    if (wants_help(args)) return ParseOutcome{ParseOutcome::Kind::kHelp, {}, {}, general_usage()};
    return usage_error("no command given", general_usage());
  }
  const CommandSpec* spec = find_spec(args[*index]);
  if (!spec) return usage_error("unknown command '" + args[*index] + "'", general_usage());
  const std::string usage = command_usage(*spec);
  if (wants_help(args)) return ParseOutcome{ParseOutcome::Kind::kHelp, {}, {}, usage};

  std::vector<std::string> rest(args.begin(), args.end());
  rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(*index));
  po::options_description all;
  all.add(command_options(spec->command)).add(global_options());
  all.add_options()("positional", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("positional", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(rest).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what(), usage);
  }

  ParseOutcome outcome;
  outcome.kind = ParseOutcome::Kind::kRun;
  outcome.usage = usage;
  CommandLine& line = outcome.line;
  line.command = spec->command;
  line.json = vm["json"].as<bool>();
  if (vm.count("region")) {
    line.region = vm["region"].as<std::string>();
    if (line.region.empty()) return usage_error("--region needs a region, e.g. us-east-1", usage);
  }
  if (std::string e = read_endpoint(vm, env_socket, env_endpoint, line.endpoint); !e.empty()) {
    return usage_error(e, usage);
  }

  std::vector<std::string> names;
  if (vm.count("positional")) names = vm["positional"].as<std::vector<std::string>>();
  const size_t wanted = spec->operand == Operand::kNone ? 0 : 1;
  if (names.size() > wanted) {
    const std::string& extra = names[wanted];
    std::string message = "unexpected argument '" + extra + "'";
    if (extra.find('=') != std::string::npos) message += " (repeat --env for each variable)";
    return usage_error(message, usage);
  }
  if (spec->operand == Operand::kFunction) {
    if (names.empty() || names[0].empty())
      return usage_error("the function NAME is missing", usage);
    line.name = names[0];
  }
  if (spec->operand == Operand::kMappingUuid && !names.empty()) {
    if (names[0].empty()) return usage_error("the mapping's UUID is empty", usage);
    line.mapping_uuid = names[0];
  }
  if (std::string e = read_command(vm, line); !e.empty()) return usage_error(e, usage);
  return outcome;
}

}  // namespace ember::cli

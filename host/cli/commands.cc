// The ember commands: each builds Lambda API requests, sends them, and prints the answer.
#include "host/cli/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

#include "common/unique_fd.h"
#include "host/store/encoding.h"
#include "host/cli/output.h"
#include "host/cli/request_signing.h"
#include "host/cli/zip_directory.h"

namespace ember::cli {
namespace {

using nlohmann::json;

constexpr char kFunctionsPath[] = "/2015-03-31/functions";
constexpr char kMappingsPath[] = "/2015-03-31/event-source-mappings/";
constexpr char kDefaultRole[] = "arn:aws:iam::000000000000:role/ember";
// Calls that only read or change metadata; create, update-code and invoke may take as long
// as a cold start plus the function's timeout, so they wait without a limit.
constexpr std::chrono::seconds kQuickTimeout(60);
constexpr std::chrono::milliseconds kFollowInterval(500);

std::string function_path(const std::string& name) {
  return std::string(kFunctionsPath) + "/" + percent_encode(name);
}

Result<std::string> read_fd(int fd, const std::string& what) {
  std::string data;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read", what);
    }
    if (n == 0) return data;
    data.append(buffer, static_cast<size_t>(n));
  }
}

// A file's contents; "-" is stdin.
Result<std::string> read_input(const std::string& path) {
  if (path == "-") return read_fd(STDIN_FILENO, "stdin");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("open", path);
  return read_fd(fd.get(), path);
}

void print_error(const Error& error) { std::cerr << "ember: " << error.message() << "\n"; }

// Sends request to emberd and returns its answer, whatever the status. Prints why and returns
// nullopt when emberd cannot be reached or the exchange breaks.
std::optional<HttpResponse> exchange(const CommandLine& line, HttpRequest request,
                                     std::chrono::seconds timeout) {
  request.headers.emplace_back("User-Agent", "ember-cli/0.1");
  request.headers.emplace_back("Accept", "application/json");
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    bool has_type = false;
    for (const auto& [name, value] : request.headers) has_type |= name == "Content-Type";
    if (!has_type) request.headers.emplace_back("Content-Type", "application/json");
  }
  if (line.endpoint.kind == Endpoint::Kind::kTcp) {
    // emberd's TCP listener takes only SigV4-signed requests, as Lambda does.
    const GetEnv env = [](const char* name) { return std::getenv(name); };
    auto key = find_signing_key(env);
    if (!key.ok()) {
      print_error(key.error());
      return std::nullopt;
    }
    sign_request(request, line.endpoint.host_header(), *key, signing_region(line.region, env),
                 static_cast<int64_t>(std::time(nullptr)));
  }
  auto fd = connect_endpoint(line.endpoint);
  if (!fd.ok()) {
    std::cerr << format_unreachable(line.endpoint, fd.error()) << "\n";
    return std::nullopt;
  }
  auto response = send_request(*fd, request, line.endpoint.host_header(), timeout);
  if (!response.ok()) {
    std::cerr << "ember: talking to emberd at " << line.endpoint.name() << ": "
              << response.error().message() << "\n";
    return std::nullopt;
  }
  return std::move(response).value();
}

bool succeeded(const HttpResponse& response) {
  return response.status >= 200 && response.status < 300;
}

// As exchange(), and an error status is printed and returns nullopt too.
std::optional<HttpResponse> call(const CommandLine& line, HttpRequest request,
                                 std::chrono::seconds timeout) {
  auto response = exchange(line, std::move(request), timeout);
  if (response && !succeeded(*response)) {
    std::cerr << format_api_error(api_error(*response)) << "\n";
    return std::nullopt;
  }
  return response;
}

std::optional<json> parse_json(const HttpResponse& response) {
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    std::cerr << "ember: emberd answered with something that is not JSON (HTTP " << response.status
              << ", " << response.body.size() << " bytes)\n";
    return std::nullopt;
  }
  return body;
}

void print_raw(const std::string& body) {
  std::cout << body;
  if (!body.empty() && body.back() != '\n') std::cout << "\n";
}

// Prints a FunctionConfiguration or GetFunction answer.
ExitCode print_function(const CommandLine& line, const HttpResponse& response) {
  if (line.json) {
    print_raw(response.body);
    return ExitCode::kOk;
  }
  auto body = parse_json(response);
  if (!body) return ExitCode::kError;
  std::cout << format_function(*body);
  return ExitCode::kOk;
}

Result<std::string> load_code(const CodeSource& code) {
  if (!code.dir.empty()) return zip_directory(code.dir);
  return read_zip_file(code.zip_file);
}

ExitCode run_create(const CommandLine& line) {
  auto zip = load_code(line.code);
  if (!zip.ok()) {
    print_error(zip.error());
    return ExitCode::kError;
  }
  HttpRequest request{
      "POST", kFunctionsPath, {}, create_request(line.name, line.settings, *zip).dump()};
  auto response = call(line, std::move(request), std::chrono::seconds(0));
  return response ? print_function(line, *response) : ExitCode::kError;
}

ExitCode run_update_code(const CommandLine& line) {
  auto zip = load_code(line.code);
  if (!zip.ok()) {
    print_error(zip.error());
    return ExitCode::kError;
  }
  const json body = {{"ZipFile", host::base64_encode(*zip)}};
  HttpRequest request{"PUT", function_path(line.name) + "/code", {}, body.dump()};
  auto response = call(line, std::move(request), std::chrono::seconds(0));
  return response ? print_function(line, *response) : ExitCode::kError;
}

ExitCode run_update_config(const CommandLine& line) {
  HttpRequest request{"PUT",
                      function_path(line.name) + "/configuration",
                      {},
                      update_config_request(line.settings).dump()};
  auto response = call(line, std::move(request), kQuickTimeout);
  return response ? print_function(line, *response) : ExitCode::kError;
}

ExitCode run_get(const CommandLine& line) {
  auto response = call(line, HttpRequest{"GET", function_path(line.name), {}, {}}, kQuickTimeout);
  return response ? print_function(line, *response) : ExitCode::kError;
}

ExitCode run_delete(const CommandLine& line) {
  auto response =
      call(line, HttpRequest{"DELETE", function_path(line.name), {}, {}}, kQuickTimeout);
  if (!response) return ExitCode::kError;
  if (line.json) {
    if (!response->body.empty()) print_raw(response->body);
  } else {
    std::cout << "Deleted " << line.name << ".\n";
  }
  return ExitCode::kOk;
}

// The items of every page of a Lambda list call (target, then target with Marker= added),
// following NextMarker; nullopt once a failure is printed.
std::optional<std::vector<json>> list_all(const CommandLine& line, const std::string& target,
                                          const char* items) {
  std::vector<json> all;
  std::set<std::string> markers_seen;
  std::string marker;
  for (;;) {
    std::string page = target;
    if (!marker.empty()) {
      page += (target.find('?') == std::string::npos ? "?Marker=" : "&Marker=") +
              percent_encode(marker);
    }
    auto response = call(line, HttpRequest{"GET", page, {}, {}}, kQuickTimeout);
    if (!response) return std::nullopt;
    auto body = parse_json(*response);
    if (!body) return std::nullopt;
    if (body->is_object() && body->contains(items) && (*body)[items].is_array()) {
      for (auto& item : (*body)[items]) all.push_back(std::move(item));
    }
    const json next = body->is_object() ? body->value("NextMarker", json()) : json();
    if (!next.is_string() || next.get<std::string>().empty()) return all;
    marker = next.get<std::string>();
    if (!markers_seen.insert(marker).second) {
      std::cerr << "ember: emberd repeated the list marker '" << marker << "'; stopping\n";
      return std::nullopt;
    }
  }
}

ExitCode run_list(const CommandLine& line) {
  auto functions = list_all(line, kFunctionsPath, "Functions");
  if (!functions) return ExitCode::kError;
  if (line.json) {
    std::cout << json{{"Functions", *functions}}.dump() << "\n";
  } else {
    std::cout << format_function_list(*functions);
  }
  return ExitCode::kOk;
}

// Puts each mapping's live figures (Ember's status route) under "Status". A mapping deleted
// meanwhile just has none; any other failure is printed, the mappings after it are not asked
// about, and the answer is false.
bool add_status(const CommandLine& line, std::vector<json>& mappings) {
  for (json& mapping : mappings) {
    const json uuid = mapping.is_object() ? mapping.value("UUID", json()) : json();
    if (!uuid.is_string() || uuid.get<std::string>().empty()) continue;
    const std::string target =
        "/ember/v1/event-source-mappings/" + percent_encode(uuid.get<std::string>()) + "/status";
    auto response = exchange(line, HttpRequest{"GET", target, {}, {}}, kQuickTimeout);
    std::optional<json> status;
    if (response && succeeded(*response)) {
      status = parse_json(*response);
      if (status && !status->is_object()) {
        std::cerr << "ember: emberd's status of mapping " << uuid.get<std::string>()
                  << " is not a JSON object\n";
        status.reset();
      }
    } else if (response) {
      const ApiError error = api_error(*response);
      if (error.type == "ResourceNotFoundException") {
        std::cerr << "ember: mapping " << uuid.get<std::string>()
                  << " is gone (deleted meanwhile), so it has no live figures\n";
        continue;
      }
      std::cerr << format_api_error(error) << "\n";
    }
    if (!status) {
      std::cerr << "ember: showing mapping " << uuid.get<std::string>()
                << " and any after it without live figures (lag, in flight, records/s)\n";
      return false;
    }
    mapping["Status"] = std::move(*status);
  }
  return true;
}

// One mapping (GetEventSourceMapping) or every one (ListEventSourceMappings), each with its
// live figures.
ExitCode run_mappings(const CommandLine& line) {
  std::vector<json> mappings;
  const bool one = !line.mapping_uuid.empty();
  if (one) {
    auto response =
        call(line, HttpRequest{"GET", kMappingsPath + percent_encode(line.mapping_uuid), {}, {}},
             kQuickTimeout);
    if (!response) return ExitCode::kError;
    auto body = parse_json(*response);
    if (!body) return ExitCode::kError;
    mappings.push_back(std::move(*body));
  } else {
    std::string target = kMappingsPath;
    if (!line.mapping_function.empty()) {
      target += "?FunctionName=" + percent_encode(line.mapping_function);
    }
    auto listed = list_all(line, target, "EventSourceMappings");
    if (!listed) return ExitCode::kError;
    mappings = std::move(*listed);
  }
  const bool complete = add_status(line, mappings);
  if (line.json) {
    std::cout << (one ? mappings[0] : json{{"EventSourceMappings", mappings}}).dump() << "\n";
  } else if (one) {
    std::cout << format_mapping(mappings[0]);
  } else if (mappings.empty() && !line.mapping_function.empty()) {
    std::cout << "No event source mappings for " << line.mapping_function << ".\n";
  } else {
    std::cout << format_mapping_list(mappings);
  }
  return complete ? ExitCode::kOk : ExitCode::kError;
}

// The event: --payload, --payload-file, else stdin when it is not a terminal; {} when
// there is nothing.
Result<std::string> read_payload(const InvokeOptions& options) {
  std::string payload;
  if (options.payload && *options.payload != "-") {
    payload = *options.payload;
  } else if (options.payload) {
    EMBER_TRY(payload, read_input("-"));
  } else if (options.payload_file) {
    EMBER_TRY(payload, read_input(*options.payload_file));
  } else if (!::isatty(STDIN_FILENO)) {
    EMBER_TRY(payload, read_input("-"));
  }
  if (payload.empty()) payload = "{}";
  return payload;
}

// An Event invocation is done once emberd has the event on disk: 202 and its request id.
ExitCode print_queued(const CommandLine& line, const HttpResponse& response) {
  if (response.status != 202) {
    std::cerr << "ember: emberd answered HTTP " << response.status
              << " instead of 202 Accepted, so no event was queued (an emberd without async "
                 "invocations may have run the function at once)\n";
    return ExitCode::kError;
  }
  const std::string* id = response.header("x-amzn-RequestId");
  if (line.json) {
    json out = {{"StatusCode", response.status}};
    if (id) out["RequestId"] = *id;
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "queued" << (id ? ": " + *id : std::string()) << "\n";
  }
  if (!id) std::cerr << "ember: emberd sent no x-amzn-RequestId for the queued event\n";
  return ExitCode::kOk;
}

ExitCode run_invoke(const CommandLine& line) {
  auto payload = read_payload(line.invoke);
  if (!payload.ok()) {
    print_error(payload.error());
    return ExitCode::kError;
  }
  // Only a synchronous invoke waits for the function; queuing an event is quick.
  const auto timeout = line.invoke.async ? kQuickTimeout : std::chrono::seconds(0);
  auto response =
      call(line, invoke_request(line.name, line.invoke, std::move(payload).value()), timeout);
  if (!response) return ExitCode::kError;
  if (line.invoke.async) return print_queued(line, *response);
  if (const std::string* tail = response->header("X-Amz-Log-Result")) {
    auto log = host::base64_decode(*tail);
    if (log) {
      std::cerr << *log;
      if (!log->empty() && log->back() != '\n') std::cerr << "\n";
    } else {
      std::cerr << "ember: X-Amz-Log-Result is not valid base64\n";
    }
  }
  if (line.invoke.dry_run) {
    if (!line.json) std::cout << "Dry run OK: " << line.name << " can be invoked.\n";
  } else {
    std::cout << response->body;
    if (::isatty(STDOUT_FILENO) && !response->body.empty() && response->body.back() != '\n') {
      std::cout << "\n";
    }
  }
  std::cout.flush();
  if (line.invoke.timing) {
    const std::string* timing = response->header("X-Ember-Timing");
    std::cerr << (timing ? format_timing(*timing) : "timing: emberd sent no X-Ember-Timing header")
              << "\n";
  }
  if (const std::string* kind = response->header("X-Amz-Function-Error")) {
    std::cerr << format_function_error(*kind, response->body) << "\n";
    return ExitCode::kError;
  }
  return ExitCode::kOk;
}

ExitCode run_queue(const CommandLine& line) {
  const std::string target = "/ember/v1/functions/" + percent_encode(line.name) + "/async";
  auto response = call(line, HttpRequest{"GET", target, {}, {}}, kQuickTimeout);
  if (!response) return ExitCode::kError;
  if (line.json) {
    print_raw(response->body);
    return ExitCode::kOk;
  }
  auto body = parse_json(*response);
  if (!body) return ExitCode::kError;
  std::cout << format_queue(*body);
  return ExitCode::kOk;
}

// Prints the log from offset 0; with --follow keeps polling for more.
ExitCode run_logs(const CommandLine& line) {
  uint64_t offset = 0;
  for (;;) {
    const std::string target = "/ember/v1/functions/" + percent_encode(line.name) +
                               "/logs?offset=" + std::to_string(offset);
    auto response = call(line, HttpRequest{"GET", target, {}, {}}, kQuickTimeout);
    if (!response) return ExitCode::kError;
    std::cout << response->body << std::flush;
    uint64_t next = offset + response->body.size();
    if (const std::string* header = response->header("X-Ember-Log-Offset")) {
      try {
        next = std::stoull(*header);
      } catch (const std::exception&) {
        std::cerr << "ember: emberd sent a bad X-Ember-Log-Offset '" << *header << "'\n";
        return ExitCode::kError;
      }
    }
    offset = next;
    if (!line.follow) return ExitCode::kOk;
    std::this_thread::sleep_for(kFollowInterval);
  }
}

}  // namespace

json create_request(const std::string& name, const FunctionSettings& s, const std::string& zip) {
  json body = update_config_request(s);
  body["FunctionName"] = name;
  if (!s.role) body["Role"] = kDefaultRole;
  body["PackageType"] = "Zip";
  body["Code"] = {{"ZipFile", host::base64_encode(zip)}};
  return body;
}

json update_config_request(const FunctionSettings& s) {
  json body = json::object();
  if (s.runtime) body["Runtime"] = *s.runtime;
  if (s.handler) body["Handler"] = *s.handler;
  if (s.description) body["Description"] = *s.description;
  if (s.role) body["Role"] = *s.role;
  if (s.memory_mb) body["MemorySize"] = *s.memory_mb;
  if (s.timeout_s) body["Timeout"] = *s.timeout_s;
  if (s.tmp_mb) body["EphemeralStorage"] = {{"Size", *s.tmp_mb}};
  if (s.env) body["Environment"] = {{"Variables", *s.env}};
  if (s.egress) body["Egress"] = *s.egress == "default" ? "" : *s.egress;
  return body;
}

HttpRequest invoke_request(const std::string& name, const InvokeOptions& options,
                           std::string payload) {
  HttpRequest request{"POST", function_path(name) + "/invocations", {}, std::move(payload)};
  const char* type = options.async ? "Event" : options.dry_run ? "DryRun" : "RequestResponse";
  request.headers.emplace_back("X-Amz-Invocation-Type", type);
  if (options.tail) request.headers.emplace_back("X-Amz-Log-Type", "Tail");
  return request;
}

ExitCode run(const CommandLine& line) {
  switch (line.command) {
    case Command::kCreate:
      return run_create(line);
    case Command::kUpdateCode:
      return run_update_code(line);
    case Command::kUpdateConfig:
      return run_update_config(line);
    case Command::kGet:
      return run_get(line);
    case Command::kList:
      return run_list(line);
    case Command::kDelete:
      return run_delete(line);
    case Command::kInvoke:
      return run_invoke(line);
    case Command::kLogs:
      return run_logs(line);
    case Command::kQueue:
      return run_queue(line);
    case Command::kMappings:
      return run_mappings(line);
  }
  return ExitCode::kError;
}

}  // namespace ember::cli

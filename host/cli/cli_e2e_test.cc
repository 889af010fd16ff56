// End-to-end tests: the real ember binary against a fake emberd on a Unix socket (or a TCP
// loopback port) that answers canned Lambda-shaped JSON and records the requests it got.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/unique_fd.h"
#include "host/api/sigv4.h"
#include "host/store/encoding.h"
#include "host/cli/http_client.h"
#include "host/cli/loopback_test_socket.h"

extern char** environ;

namespace ember::cli {
namespace {

using nlohmann::json;

constexpr char kTestKeyId[] = "AKIACLITEST";
constexpr char kTestSecret[] = "cli-test-secret";

struct Request {
  std::string method, target, body;
  HttpHeaders headers;
  std::string header(const std::string& name) const {
    HttpResponse lookup;  // reuses its case-insensitive lookup
    lookup.headers = headers;
    const std::string* value = lookup.header(name);
    return value ? *value : std::string();
  }
};

struct Reply {
  int status = 200;
  HttpHeaders headers;
  std::string body;
};

// A listening Unix socket at path.
UniqueFd listen_unix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd.get(), 16) != 0) {
    ADD_FAILURE() << "cannot listen on " << path << ": " << std::strerror(errno);
  }
  return fd;
}

// A one-connection-at-a-time HTTP server on a listening socket, run by a thread.
class FakeEmberd {
 public:
  using Handler = std::function<Reply(const Request&)>;

  FakeEmberd(UniqueFd listen_fd, Handler handler)
      : handler_(std::move(handler)), listen_fd_(std::move(listen_fd)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeEmberd() {
    stop_ = true;
    thread_.join();
  }

  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  size_t request_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.size();
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listen_fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      UniqueFd conn(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) continue;
      std::optional<Request> request = read_request(conn.get());
      if (!request) continue;
      Reply reply = handler_(*request);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(*request);
      }
      std::string wire = "HTTP/1.1 " + std::to_string(reply.status) + " Canned\r\n";
      for (const auto& [name, value] : reply.headers) wire += name + ": " + value + "\r\n";
      wire += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body;
      (void)!::send(conn.get(), wire.data(), wire.size(), MSG_NOSIGNAL);
    }
  }

  // Headers, then a Content-Length body (all the client ever sends).
  static std::optional<Request> read_request(int fd) {
    std::string raw;
    char buffer[65536];
    size_t header_end = std::string::npos;
    size_t length = 0;
    for (;;) {
      if (header_end == std::string::npos) {
        header_end = raw.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          std::istringstream head(raw.substr(0, header_end));
          std::string line;
          std::getline(head, line);
          while (std::getline(head, line)) {
            if (line.rfind("Content-Length:", 0) == 0) length = std::stoul(line.substr(15));
          }
        }
      }
      if (header_end != std::string::npos && raw.size() >= header_end + 4 + length) break;
      const ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n <= 0) return std::nullopt;
      raw.append(buffer, static_cast<size_t>(n));
    }
    Request r;
    std::istringstream head(raw.substr(0, header_end));
    std::string line;
    std::getline(head, line);
    std::istringstream start(line);
    start >> r.method >> r.target;
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      const size_t value = line.find_first_not_of(' ', colon + 1);
      r.headers.emplace_back(line.substr(0, colon),
                             value == std::string::npos ? "" : line.substr(value));
    }
    r.body = raw.substr(header_end + 4, length);
    return r;
  }

  Handler handler_;
  UniqueFd listen_fd_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Request> requests_;
  std::thread thread_;  // last: starts once the rest exists
};

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const json kHello = json::parse(R"({"FunctionName":"hello","Runtime":"python3.11",
  "Handler":"app.handler","MemorySize":128,"Timeout":3,"EphemeralStorage":{"Size":512},
  "State":"Active"})");

class CliEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-cli-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/ember.sock";
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void serve(FakeEmberd::Handler handler) {
    server_ = std::make_unique<FakeEmberd>(listen_unix(socket_), std::move(handler));
  }

  // Serves on a TCP loopback port (127.0.0.1 or ::1); returns the port, 0 when the
  // address family is not available.
  uint16_t serve_tcp(int family, FakeEmberd::Handler handler) {
    LoopbackSocket socket = bind_loopback(family, true);
    const uint16_t port = socket.port;
    if (port != 0) server_ = std::make_unique<FakeEmberd>(std::move(socket.fd), std::move(handler));
    return port;
  }

  // Starts ember with args; stdin from a file holding stdin_data (or /dev/null), output to
  // files. EMBER_SOCKET is set to the fake's socket unless env_socket says otherwise;
  // EMBER_ENDPOINT is set only when env_endpoint is given.
  pid_t start(const std::vector<std::string>& args, const std::string& stdin_data = {},
              std::optional<std::string> env_socket = std::nullopt,
              std::optional<std::string> env_endpoint = std::nullopt) {
    const std::string in_path = dir_ + "/stdin";
    std::ofstream(in_path, std::ios::binary) << stdin_data;
    std::vector<std::string> argv = {EMBER_CLI_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> c_argv;
    for (auto& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    // The environment is built before fork: the child only calls async-signal-safe functions.
    std::string socket_var = "EMBER_SOCKET=" + env_socket.value_or(socket_);
    std::string endpoint_var = "EMBER_ENDPOINT=" + env_endpoint.value_or("");
    std::vector<char*> envp = {socket_var.data()};
    if (env_endpoint) envp.push_back(endpoint_var.data());
    // The signing key and region come from aws_env_ only (HOME is the test's directory).
    std::vector<std::string> aws_vars = aws_env_;
    aws_vars.push_back("HOME=" + dir_);
    for (std::string& var : aws_vars) envp.push_back(var.data());
    for (char** e = environ; *e; ++e) {
      const std::string_view var(*e);
      if (var.rfind("EMBER_SOCKET=", 0) != 0 && var.rfind("EMBER_ENDPOINT=", 0) != 0 &&
          var.rfind("AWS_", 0) != 0 && var.rfind("HOME=", 0) != 0) {
        envp.push_back(*e);
      }
    }
    envp.push_back(nullptr);
    const std::string out = dir_ + "/stdout", err = dir_ + "/stderr";
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int in_fd = ::open(stdin_data.empty() ? "/dev/null" : in_path.c_str(), O_RDONLY);
      const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(in_fd, 0);
      ::dup2(out_fd, 1);
      ::dup2(err_fd, 2);
      ::execve(c_argv[0], c_argv.data(), envp.data());
      ::_exit(127);
    }
    return pid;
  }

  CliRun finish(pid_t pid) {
    int status = 0;
    CliRun run;
    if (::waitpid(pid, &status, 0) == pid) {
      run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    run.out = slurp(dir_ + "/stdout");
    run.err = slurp(dir_ + "/stderr");
    return run;
  }

  CliRun ember(const std::vector<std::string>& args, const std::string& stdin_data = {}) {
    return finish(start(args, stdin_data));
  }

  std::string dir_, socket_;
  std::vector<std::string> aws_env_ = {"AWS_ACCESS_KEY_ID=" + std::string(kTestKeyId),
                                       "AWS_SECRET_ACCESS_KEY=" + std::string(kTestSecret),
                                       "AWS_REGION=eu-west-1"};
  std::unique_ptr<FakeEmberd> server_;
};

// Whether r carries a valid SigV4 signature by kTestKeyId for eu-west-1 and service lambda.
::testing::AssertionResult signed_by_test_key(const Request& r) {
  auto auth = host::parse_sigv4_authorization(r.header("Authorization"));
  if (!auth.ok()) return ::testing::AssertionFailure() << auth.error().message();
  if (auth->access_key_id != kTestKeyId || auth->scope.region != "eu-west-1" ||
      auth->scope.service != "lambda") {
    return ::testing::AssertionFailure() << "scope: " << r.header("Authorization");
  }
  host::SigV4Message message;
  message.method = r.method;
  const size_t mark = r.target.find('?');
  message.path = r.target.substr(0, mark);
  message.raw_query = mark == std::string::npos ? "" : r.target.substr(mark + 1);
  for (const std::string& name : auth->signed_headers) {
    message.headers.emplace_back(name, r.header(name));
  }
  message.payload_sha256_hex = host::sha256_hex(r.body);
  const std::string expected =
      host::sigv4_signature(message, kTestSecret, r.header("X-Amz-Date"), auth->scope);
  if (expected != auth->signature) return ::testing::AssertionFailure() << "bad signature";
  return ::testing::AssertionSuccess();
}

TEST_F(CliEndToEndTest, CreateZipsTheDirectoryAndSendsTheConfiguration) {
  const std::string code = dir_ + "/code";
  std::filesystem::create_directories(code);
  std::ofstream(code + "/app.py") << "def handler(e, c):\n    return e\n";
  serve([](const Request&) {
    return Reply{201, {{"Content-Type", "application/json"}}, kHello.dump()};
  });

  CliRun run = ember({"create", "hello", "--runtime", "python3.11", "--handler", "app.handler",
                      "--code", code, "--memory", "256", "--timeout", "10", "--tmp", "1024",
                      "--env", "GREETING=hi there", "--description", "demo"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(server_->request_count(), 1u);
  const Request r = server_->requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/2015-03-31/functions");
  EXPECT_EQ(r.header("content-type"), "application/json");
  const json body = json::parse(r.body);
  EXPECT_EQ(body["FunctionName"], "hello");
  EXPECT_EQ(body["Runtime"], "python3.11");
  EXPECT_EQ(body["Handler"], "app.handler");
  EXPECT_EQ(body["MemorySize"], 256);
  EXPECT_EQ(body["Timeout"], 10);
  EXPECT_EQ(body["EphemeralStorage"]["Size"], 1024);
  EXPECT_EQ(body["Environment"]["Variables"]["GREETING"], "hi there");
  EXPECT_EQ(body["Description"], "demo");
  EXPECT_EQ(body["Role"], "arn:aws:iam::000000000000:role/ember");
  auto zip = host::base64_decode(body["Code"]["ZipFile"].get<std::string>());
  ASSERT_TRUE(zip.has_value());
  EXPECT_EQ(zip->substr(0, 4), std::string("PK\3\4"));
  EXPECT_NE(zip->find("app.py"), std::string::npos);
  EXPECT_NE(run.out.find("Name:    hello"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Memory:  128 MB"), std::string::npos) << run.out;
}

TEST_F(CliEndToEndTest, UpdateCodeAndConfigurationSendOnlyWhatWasGiven) {
  serve([](const Request&) { return Reply{200, {}, kHello.dump()}; });
  const std::string zip = dir_ + "/code.zip";
  std::ofstream(zip, std::ios::binary) << std::string("PK\5\6") + std::string(18, '\0');

  CliRun code = ember({"update-code", "hello", "--zip", zip, "--json"});
  ASSERT_EQ(code.exit_code, 0) << code.err;
  EXPECT_EQ(json::parse(code.out), kHello);  // --json: the raw answer
  CliRun config =
      ember({"update-config", "hello", "--timeout", "20", "--env", "A=1", "--env", "B=2"});
  ASSERT_EQ(config.exit_code, 0) << config.err;

  const auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/2015-03-31/functions/hello/code");
  EXPECT_EQ(json::parse(requests[0].body),
            (json{{"ZipFile", host::base64_encode(std::string("PK\5\6") + std::string(18, '\0'))}}));
  EXPECT_EQ(requests[1].method, "PUT");
  EXPECT_EQ(requests[1].target, "/2015-03-31/functions/hello/configuration");
  EXPECT_EQ(json::parse(requests[1].body),
            json::parse(R"({"Timeout":20,"Environment":{"Variables":{"A":"1","B":"2"}}})"));
}

TEST_F(CliEndToEndTest, InvokePrintsThePayloadTheLogTailAndTheTiming) {
  const std::string log = "START RequestId: r1 Version: $LATEST\nhi\nEND RequestId: r1\n";
  serve([&log](const Request&) {
    return Reply{
        200,
        {{"X-Amz-Log-Result", host::base64_encode(log)},
         {"X-Amz-Executed-Version", "$LATEST"},
         {"X-Ember-Timing", "start=cold;queue=0.2;restore=11;boot=0;init=30;handler=2;total=44"}},
        R"({"echo":{"x":1}})"};
  });
  CliRun run = ember({"invoke", "hello", "--payload", R"({"x":1})", "--tail", "--timing"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, R"({"echo":{"x":1}})");  // not a terminal: the payload exactly
  EXPECT_NE(run.err.find(log), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("timing: cold start, total 44 ms (queue 0.2 ms, restore 11 ms"),
            std::string::npos)
      << run.err;
  const Request r = server_->requests().at(0);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/2015-03-31/functions/hello/invocations");
  EXPECT_EQ(r.header("X-Amz-Invocation-Type"), "RequestResponse");
  EXPECT_EQ(r.header("X-Amz-Log-Type"), "Tail");
  EXPECT_EQ(r.body, R"({"x":1})");
}

TEST_F(CliEndToEndTest, InvokeReadsStdinAndFailsOnAFunctionError) {
  serve([](const Request&) {
    return Reply{200,
                 {{"X-Amz-Function-Error", "Unhandled"}},
                 R"({"errorType":"ZeroDivisionError","errorMessage":"division by zero"})"};
  });
  CliRun run = ember({"invoke", "hello"}, R"({"from":"stdin"})");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("ZeroDivisionError"), std::string::npos);  // still printed
  EXPECT_NE(
      run.err.find("ember: the function failed (Unhandled): ZeroDivisionError: division by zero"),
      std::string::npos)
      << run.err;
  const Request r = server_->requests().at(0);
  EXPECT_EQ(r.body, R"({"from":"stdin"})");
  EXPECT_EQ(r.header("X-Amz-Log-Type"), "");  // no --tail
}

TEST_F(CliEndToEndTest, InvokePayloadFileAndDryRun) {
  serve([](const Request& r) {
    return r.header("X-Amz-Invocation-Type") == "DryRun" ? Reply{204, {}, {}}
                                                         : Reply{200, {}, "null"};
  });
  std::ofstream(dir_ + "/event.json") << R"({"file":true})";
  CliRun file = ember({"invoke", "hello", "--payload-file", dir_ + "/event.json"});
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out, "null");
  CliRun dry = ember({"invoke", "hello", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("Dry run OK"), std::string::npos);
  const auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body, R"({"file":true})");
  EXPECT_EQ(requests[1].header("X-Amz-Invocation-Type"), "DryRun");
  EXPECT_EQ(requests[1].body, "{}");  // stdin is /dev/null and nothing else was given
}

TEST_F(CliEndToEndTest, InvokeAsyncQueuesAnEventAndPrintsItsRequestId) {
  serve([](const Request& r) {
    if (r.target.find("/missing/") != std::string::npos) {
      return Reply{404,
                   {{"x-amzn-ErrorType", "ResourceNotFoundException"}},
                   R"({"Type":"User","Message":"Function not found: missing"})"};
    }
    return Reply{202, {{"x-amzn-RequestId", "9c1d2e3f-aaaa-bbbb-cccc-0123456789ab"}}, {}};
  });
  CliRun run = ember({"invoke", "hello", "--async", "--payload", R"({"n":1})"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "queued: 9c1d2e3f-aaaa-bbbb-cccc-0123456789ab\n");
  EXPECT_EQ(run.err, "");
  CliRun as_json = ember({"--json", "invoke", "hello", "--async"}, R"({"from":"stdin"})");
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  EXPECT_EQ(json::parse(as_json.out),
            (json{{"StatusCode", 202}, {"RequestId", "9c1d2e3f-aaaa-bbbb-cccc-0123456789ab"}}));
  CliRun missing = ember({"invoke", "missing", "--async"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err, "ember: ResourceNotFoundException: Function not found: missing\n");

  const auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/2015-03-31/functions/hello/invocations");
  EXPECT_EQ(requests[0].header("X-Amz-Invocation-Type"), "Event");
  EXPECT_EQ(requests[0].header("X-Amz-Log-Type"), "");
  EXPECT_EQ(requests[0].body, R"({"n":1})");
  EXPECT_EQ(requests[1].header("X-Amz-Invocation-Type"), "Event");
  EXPECT_EQ(requests[1].body, R"({"from":"stdin"})");
  EXPECT_EQ(requests[2].target, "/2015-03-31/functions/missing/invocations");
}

TEST_F(CliEndToEndTest, InvokeAsyncFailsWhenNothingWasQueued) {
  // An emberd that ran the event at once (200) has not queued it.
  serve([](const Request&) { return Reply{200, {{"x-amzn-RequestId", "r1"}}, "null"}; });
  CliRun run = ember({"invoke", "hello", "--async"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("HTTP 200 instead of 202 Accepted, so no event was queued"),
            std::string::npos)
      << run.err;
}

TEST_F(CliEndToEndTest, InvokeAsyncWithSyncOnlyFlagsIsAUsageError) {
  serve([](const Request&) { return Reply{202, {{"x-amzn-RequestId", "r1"}}, {}}; });
  for (const char* flag : {"--tail", "--timing", "--dry-run"}) {
    CliRun run = ember({"invoke", "hello", "--async", flag});
    EXPECT_EQ(run.exit_code, 2) << flag;
    EXPECT_EQ(run.out, "") << flag;
    EXPECT_EQ(run.err.rfind("ember: --async", 0), 0u) << run.err;
    EXPECT_NE(run.err.find(flag), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("Usage: ember invoke"), std::string::npos) << run.err;
  }
  EXPECT_EQ(server_->request_count(), 0u);  // nothing was sent
}

TEST_F(CliEndToEndTest, QueuePrintsTheQueueAndRecentEvents) {
  const std::string answer = R"({"FunctionName":"hello","Depth":3,"OldestAgeMs":183000,)"
                             R"("InFlight":1,"WaitingRetry":1,"Recent":[{"RequestId":"r9",)"
                             R"("Fate":"RetriesExhausted","Attempts":3,)"
                             R"("Accepted":"2026-12-01T10:00:00.000+0000",)"
                             R"("Finished":"2026-12-01T10:03:01.000+0000",)"
                             R"("Detail":"Runtime.Unknown"}]})";
  serve([&answer](const Request& r) {
    if (r.target.find("/missing/") != std::string::npos) {
      return Reply{404,
                   {{"x-amzn-ErrorType", "ResourceNotFoundException"}},
                   R"({"Type":"User","Message":"Function not found: missing"})"};
    }
    return Reply{200, {{"Content-Type", "application/json"}}, answer};
  });
  CliRun run = ember({"queue", "hello"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out.rfind("Function:            hello\nDepth:               3\n"
                          "Oldest event:        3 min 3 s old\nIn flight:           1\n"
                          "Waiting for a retry: 1\n",
                          0),
            0u)
      << run.out;
  EXPECT_NE(run.out.find("\nREQUEST ID  FATE "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\nr9          RetriesExhausted  3         2026-12-01 10:00:00  "
                         "2026-12-01 10:03:01  Runtime.Unknown\n"),
            std::string::npos)
      << run.out;
  CliRun as_json = ember({"queue", "hello", "--json"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  EXPECT_EQ(as_json.out, answer + "\n");  // as it came
  CliRun missing = ember({"queue", "missing"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err, "ember: ResourceNotFoundException: Function not found: missing\n");

  const auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/ember/v1/functions/hello/async");
  EXPECT_EQ(requests[0].body, "");
  EXPECT_EQ(requests[2].target, "/ember/v1/functions/missing/async");
}

TEST_F(CliEndToEndTest, QueueRefusesAnAnswerThatIsNotJson) {
  serve([](const Request&) { return Reply{200, {}, "<html>proxy</html>"}; });
  CliRun run = ember({"queue", "hello"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("not JSON"), std::string::npos) << run.err;
}

// Two event source mappings over two pages, the first one run by a poller.
json mapping_of(const std::string& uuid, const std::string& function, const std::string& key) {
  return {{"UUID", uuid},
          {"EventSourceArn", "arn:ember:redis:::main/stream/" + key},
          {"FunctionArn", "arn:aws:lambda:local:000000000000:function:" + function},
          {"BatchSize", 100},
          {"MaximumBatchingWindowInSeconds", 0},
          {"State", "Enabled"},
          {"StateTransitionReason", "USER_INITIATED"},
          {"LastProcessingResult", "OK"},
          {"StartingPosition", "TRIM_HORIZON"}};
}

const json kMappingOne = mapping_of("u1", "hello", "orders");
const json kMappingTwo = mapping_of("u2", "other", "refunds");
const json kStatusOne = json::parse(R"({"UUID":"u1","FunctionName":"hello",
  "EventSourceArn":"arn:ember:redis:::main/stream/orders","State":"Enabled",
  "LastProcessingResult":"OK","Lag":12,"BatchesInFlight":1,"Records":1000,"RecordsPerSecond":8.5})");
const json kStatusTwo = json::parse(R"({"UUID":"u2","FunctionName":"other",
  "EventSourceArn":"arn:ember:redis:::main/stream/refunds","State":"Enabled",
  "LastProcessingResult":"OK"})");

Reply not_found(const std::string& message) {
  return Reply{404,
               {{"x-amzn-ErrorType", "ResourceNotFoundException"}},
               json{{"Type", "User"}, {"Message", message}}.dump()};
}

// A fake emberd with the two mappings: ListEventSourceMappings in pages of one,
// GetEventSourceMapping and the status route.
Reply serve_mappings(const Request& r) {
  const std::string list = "/2015-03-31/event-source-mappings/";
  if (r.target == list || r.target == list + "?FunctionName=hello") {
    return Reply{200, {}, json{{"EventSourceMappings", {kMappingOne}}, {"NextMarker", "7"}}.dump()};
  }
  if (r.target == list + "?Marker=7" || r.target == list + "?FunctionName=hello&Marker=7") {
    return Reply{200, {}, json{{"EventSourceMappings", {kMappingTwo}}}.dump()};
  }
  if (r.target == list + "u1") return Reply{200, {}, kMappingOne.dump()};
  const std::string status = "/ember/v1/event-source-mappings/";
  if (r.target == status + "u1/status") return Reply{200, {}, kStatusOne.dump()};
  if (r.target == status + "u2/status") return Reply{200, {}, kStatusTwo.dump()};
  return not_found("The resource you requested does not exist.");
}

std::vector<std::string> targets(const std::vector<Request>& requests) {
  std::vector<std::string> out;
  for (const Request& r : requests) out.push_back(r.method + " " + r.target);
  return out;
}

TEST_F(CliEndToEndTest, MappingsListsEveryPageWithLiveFigures) {
  serve(serve_mappings);
  CliRun run = ember({"mappings"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(run.out,
            "UUID  FUNCTION  SOURCE                                 STATE    LAST RESULT  LAG  "
            "IN FLIGHT  RECORDS/S\n"
            "u1    hello     arn:ember:redis:::main/stream/orders   Enabled  OK           12   "
            "1          8.5\n"
            "u2    other     arn:ember:redis:::main/stream/refunds  Enabled  OK           -    "
            "-          -\n");
  EXPECT_EQ(targets(server_->requests()),
            (std::vector<std::string>{"GET /2015-03-31/event-source-mappings/",
                                      "GET /2015-03-31/event-source-mappings/?Marker=7",
                                      "GET /ember/v1/event-source-mappings/u1/status",
                                      "GET /ember/v1/event-source-mappings/u2/status"}));
  EXPECT_EQ(server_->requests()[0].header("Accept"), "application/json");
}

TEST_F(CliEndToEndTest, MappingsJsonHasEveryPageAndEachStatus) {
  serve(serve_mappings);
  CliRun run = ember({"mappings", "--json", "--function", "hello"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json one = kMappingOne, two = kMappingTwo;
  one["Status"] = kStatusOne;
  two["Status"] = kStatusTwo;
  EXPECT_EQ(json::parse(run.out), (json{{"EventSourceMappings", {one, two}}}));
  const auto requests = targets(server_->requests());
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0], "GET /2015-03-31/event-source-mappings/?FunctionName=hello");
  EXPECT_EQ(requests[1], "GET /2015-03-31/event-source-mappings/?FunctionName=hello&Marker=7");
}

TEST_F(CliEndToEndTest, MappingsShowsOneMapping) {
  serve(serve_mappings);
  CliRun run = ember({"mappings", "u1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out,
            "UUID:              u1\n"
            "Function:          arn:aws:lambda:local:000000000000:function:hello\n"
            "Source:            arn:ember:redis:::main/stream/orders\n"
            "State:             Enabled\n"
            "State reason:      USER_INITIATED\n"
            "Last result:       OK\n"
            "Batch size:        100\n"
            "Batching window:   0 s\n"
            "Starting position: TRIM_HORIZON\n"
            "Lag:               12 entries not yet acknowledged\n"
            "In flight:         1 batch\n"
            "Records:           1000 since the poller started\n"
            "Records/s:         8.5 (average since the poller started)\n");
  CliRun as_json = ember({"mappings", "u1", "--json"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  json expected = kMappingOne;
  expected["Status"] = kStatusOne;
  EXPECT_EQ(json::parse(as_json.out), expected);
  CliRun missing = ember({"mappings", "nope/x"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err,
            "ember: ResourceNotFoundException: The resource you requested does not exist.\n");
  EXPECT_EQ(targets(server_->requests()),
            (std::vector<std::string>{"GET /2015-03-31/event-source-mappings/u1",
                                      "GET /ember/v1/event-source-mappings/u1/status",
                                      "GET /2015-03-31/event-source-mappings/u1",
                                      "GET /ember/v1/event-source-mappings/u1/status",
                                      "GET /2015-03-31/event-source-mappings/nope%2Fx"}));
}

TEST_F(CliEndToEndTest, MappingsWithoutAStatusRouteShowTheRestAndExitOne) {
  // An emberd without the status route: the first refusal is printed, no more are asked.
  serve([](const Request& r) {
    if (r.target.starts_with("/ember/")) {
      return Reply{404,
                   {{"x-amzn-ErrorType", "UnknownOperationException"}},
                   R"({"Type":"User","Message":"Unknown operation GET /ember/v1/..."})"};
    }
    return Reply{200, {}, json{{"EventSourceMappings", {kMappingOne, kMappingTwo}}}.dump()};
  });
  CliRun run = ember({"mappings"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("\nu1    hello     arn:ember:redis:::main/stream/orders   Enabled  OK  "),
            std::string::npos)
      << run.out;
  EXPECT_TRUE(run.out.ends_with("  -    -          -\n")) << run.out;
  EXPECT_EQ(run.err,
            "ember: UnknownOperationException: Unknown operation GET /ember/v1/...\n"
            "ember: showing mapping u1 and any after it without live figures (lag, in flight, "
            "records/s)\n");
  EXPECT_EQ(server_->request_count(), 2u);  // the list and one status
}

TEST_F(CliEndToEndTest, MappingsDeletedWhileListedHaveNoFigures) {
  serve([](const Request& r) {
    if (r.target == "/ember/v1/event-source-mappings/u1/status") {
      return not_found("The resource you requested does not exist.");
    }
    if (r.target.starts_with("/ember/")) return Reply{200, {}, kStatusOne.dump()};
    return Reply{200, {}, json{{"EventSourceMappings", {kMappingOne, kMappingTwo}}}.dump()};
  });
  CliRun run = ember({"mappings", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "ember: mapping u1 is gone (deleted meanwhile), so it has no live figures\n");
  const json out = json::parse(run.out);
  EXPECT_FALSE(out["EventSourceMappings"][0].contains("Status"));
  EXPECT_EQ(out["EventSourceMappings"][1]["Status"]["Lag"], 12);  // still asked for
  EXPECT_EQ(server_->request_count(), 3u);
}

TEST_F(CliEndToEndTest, MappingsNoneAndABrokenList) {
  std::atomic<bool> loop{false};
  serve([&loop](const Request&) {
    json page = {{"EventSourceMappings", json::array()}};
    if (loop) page["NextMarker"] = "same";
    return Reply{200, {}, page.dump()};
  });
  EXPECT_EQ(ember({"mappings"}).out, "No event source mappings.\n");
  CliRun filtered = ember({"mappings", "--function", "hello"});
  ASSERT_EQ(filtered.exit_code, 0) << filtered.err;
  EXPECT_EQ(filtered.out, "No event source mappings for hello.\n");
  loop = true;  // a marker that comes back again must not loop forever
  CliRun looping = ember({"mappings"});
  EXPECT_EQ(looping.exit_code, 1);
  EXPECT_EQ(looping.out, "");
  EXPECT_EQ(looping.err, "ember: emberd repeated the list marker 'same'; stopping\n");
  EXPECT_EQ(server_->request_count(), 4u);
  CliRun help = ember({"mappings", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out.rfind("Usage: ember mappings [--function NAME | UUID]\n", 0), 0u) << help.out;
  EXPECT_EQ(ember({"mappings", "u1", "--function", "f"}).exit_code, 2);
  EXPECT_EQ(server_->request_count(), 4u);
}

TEST_F(CliEndToEndTest, GetPrintsLambdaErrorsAndExitsOne) {
  serve([](const Request& r) {
    if (r.target.ends_with("/missing")) {
      return Reply{404,
                   {{"x-amzn-ErrorType", "ResourceNotFoundException"}},
                   R"({"Type":"User","Message":"Function not found: missing"})"};
    }
    return Reply{200, {}, json{{"Configuration", kHello}, {"Code", json::object()}}.dump()};
  });
  CliRun found = ember({"get", "hello"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  EXPECT_NE(found.out.find("Handler: app.handler"), std::string::npos) << found.out;
  CliRun missing = ember({"get", "missing"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "ember: ResourceNotFoundException: Function not found: missing\n");
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(server_->requests().at(1).target, "/2015-03-31/functions/missing");
  EXPECT_EQ(server_->requests().at(1).method, "GET");
}

TEST_F(CliEndToEndTest, ListFollowsNextMarker) {
  serve([](const Request& r) {
    json page;
    if (r.target == "/2015-03-31/functions") {
      page = {{"Functions", {kHello}}, {"NextMarker", "page 2"}};
    } else {
      json other = kHello;
      other["FunctionName"] = "second";
      page = {{"Functions", {other}}, {"NextMarker", nullptr}};
    }
    return Reply{200, {}, page.dump()};
  });
  CliRun run = ember({"list"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out.rfind("NAME", 0), 0u) << run.out;
  EXPECT_NE(run.out.find("\nhello "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\nsecond "), std::string::npos) << run.out;
  const auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].target, "/2015-03-31/functions?Marker=page%202");
  CliRun as_json = ember({"list", "--json"});
  ASSERT_EQ(as_json.exit_code, 0);
  EXPECT_EQ(json::parse(as_json.out)["Functions"].size(), 2u);
}

TEST_F(CliEndToEndTest, DeleteSendsDelete) {
  serve([](const Request&) { return Reply{204, {}, {}}; });
  CliRun run = ember({"delete", "hello"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "Deleted hello.\n");
  EXPECT_EQ(server_->requests().at(0).method, "DELETE");
  EXPECT_EQ(server_->requests().at(0).target, "/2015-03-31/functions/hello");
}

TEST_F(CliEndToEndTest, LogsPrintsFromOffsetAndFollows) {
  std::atomic<int> served{0};
  serve([&served](const Request&) {
    const int n = served++;
    const std::string body = n < 3 ? "line " + std::to_string(n) + "\n" : "";
    return Reply{200, {{"X-Ember-Log-Offset", std::to_string(7 * std::min(n + 1, 3))}}, body};
  });
  CliRun once = ember({"logs", "hello"});
  ASSERT_EQ(once.exit_code, 0) << once.err;
  EXPECT_EQ(once.out, "line 0\n");
  EXPECT_EQ(server_->requests().at(0).target, "/ember/v1/functions/hello/logs?offset=0");

  served = 0;
  const pid_t pid = start({"logs", "hello", "--follow"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server_->request_count() < 6 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGINT);
  CliRun follow = finish(pid);
  EXPECT_EQ(follow.out, "line 0\nline 1\nline 2\n");
  const auto requests = server_->requests();
  ASSERT_GE(requests.size(), 6u);
  EXPECT_EQ(requests[1].target, "/ember/v1/functions/hello/logs?offset=0");
  EXPECT_EQ(requests[2].target, "/ember/v1/functions/hello/logs?offset=7");
  EXPECT_EQ(requests[3].target, "/ember/v1/functions/hello/logs?offset=14");
  EXPECT_EQ(requests[5].target, "/ember/v1/functions/hello/logs?offset=21");
}

TEST_F(CliEndToEndTest, ExplainsAMissingDaemon) {
  CliRun run = ember({"list"});  // nothing listens on socket_
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err.rfind("ember: cannot reach emberd at " + socket_ +
                              ": No such file or directory; is emberd running?",
                          0),
            0u)
      << run.err;
  CliRun flag = finish(start({"get", "f", "--socket", dir_ + "/other.sock"}, {}, socket_));
  EXPECT_NE(flag.err.find(dir_ + "/other.sock"), std::string::npos);  // --socket beats the env
}

TEST_F(CliEndToEndTest, UsageErrorsExitTwoAndHelpExitsZero) {
  CliRun missing = ember({"create", "f", "--handler", "h", "--code", "."});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err.rfind("ember: --runtime is required\n", 0), 0u) << missing.err;
  EXPECT_NE(missing.err.find("Usage: ember create"), std::string::npos);
  EXPECT_EQ(ember({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(ember({}).exit_code, 2);
  CliRun help = ember({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Usage: ember"), std::string::npos);
  CliRun invoke_help = ember({"invoke", "--help"});
  EXPECT_EQ(invoke_help.exit_code, 0);
  EXPECT_NE(invoke_help.out.find("--payload-file"), std::string::npos);
  EXPECT_NE(invoke_help.out.find("--endpoint URL"), std::string::npos);
  EXPECT_NE(invoke_help.out.find("--async"), std::string::npos);
  CliRun queue_help = ember({"queue", "--help"});
  EXPECT_EQ(queue_help.exit_code, 0);
  EXPECT_EQ(queue_help.out.rfind("Usage: ember queue NAME\n", 0), 0u) << queue_help.out;
  EXPECT_EQ(ember({"queue"}).exit_code, 2);
}

// The same requests and output as over the Unix socket, with the Host header of the URL.
TEST_F(CliEndToEndTest, TalksToEmberdOverTcp) {
  const uint16_t port = serve_tcp(AF_INET, [](const Request& r) {
    if (r.method == "POST") return Reply{200, {{"X-Amz-Executed-Version", "$LATEST"}}, r.body};
    return Reply{200, {}, json{{"Configuration", kHello}, {"Code", json::object()}}.dump()};
  });
  ASSERT_NE(port, 0) << std::strerror(errno);
  const std::string authority = "127.0.0.1:" + std::to_string(port);

  // The Unix socket named by EMBER_SOCKET does not exist: only TCP can work.
  CliRun invoke = ember({"--endpoint", "http://" + authority, "invoke", "hello", "--payload",
                         R"({"over":"tcp"})"});
  ASSERT_EQ(invoke.exit_code, 0) << invoke.err;
  EXPECT_EQ(invoke.out, R"({"over":"tcp"})");
  CliRun get = ember({"get", "hello", "--endpoint", authority});  // HOST:PORT without http://
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_NE(get.out.find("Handler: app.handler"), std::string::npos) << get.out;
  // $EMBER_ENDPOINT when no flag is given; it beats $EMBER_SOCKET.
  CliRun env = finish(start({"get", "hello", "--json"}, {}, std::nullopt, "http://" + authority));
  ASSERT_EQ(env.exit_code, 0) << env.err;
  EXPECT_EQ(json::parse(env.out)["Configuration"], kHello);

  const auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/2015-03-31/functions/hello/invocations");
  EXPECT_EQ(requests[0].body, R"({"over":"tcp"})");
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(requests[1].target, "/2015-03-31/functions/hello");
  for (const Request& r : requests) {
    EXPECT_EQ(r.header("Host"), authority);
    EXPECT_TRUE(signed_by_test_key(r));  // $AWS_ACCESS_KEY_ID, region $AWS_REGION
  }
}

// Over TCP the key comes from $AWS_* or ~/.aws/credentials; without one nothing is sent.
TEST_F(CliEndToEndTest, SignsTcpRequestsWithTheSharedCredentialsFile) {
  const uint16_t port = serve_tcp(AF_INET, [](const Request&) {
    return Reply{200, {}, json{{"Functions", json::array()}}.dump()};
  });
  ASSERT_NE(port, 0) << std::strerror(errno);
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(port);
  aws_env_ = {};
  CliRun none = ember({"list", "--endpoint", endpoint});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("ember: find an access key to sign requests to emberd: "
                          "AWS_ACCESS_KEY_ID is not set and " + dir_ + "/.aws/credentials "
                          "does not exist"),
            std::string::npos)
      << none.err;
  EXPECT_TRUE(server_->requests().empty());

  std::filesystem::create_directories(dir_ + "/.aws");
  std::ofstream(dir_ + "/.aws/credentials")
      << "[default]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other\n"
      << "[ember]\naws_access_key_id = " << kTestKeyId
      << "\naws_secret_access_key = " << kTestSecret << "\n";
  aws_env_ = {"AWS_PROFILE=ember"};
  CliRun listed = ember({"list", "--endpoint", endpoint, "--region", "eu-west-1"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_TRUE(signed_by_test_key(server_->requests()[0]));

  // Over the Unix socket nothing is signed and no key is needed.
  aws_env_ = {};
  serve([](const Request&) { return Reply{200, {}, json{{"Functions", json::array()}}.dump()}; });
  ASSERT_EQ(ember({"list"}).exit_code, 0);
  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_EQ(server_->requests()[0].header("Authorization"), "");
}

TEST_F(CliEndToEndTest, TalksToEmberdOverTcpV6) {
  const uint16_t port = serve_tcp(AF_INET6, [](const Request&) { return Reply{204, {}, {}}; });
  if (port == 0) GTEST_SKIP() << "no IPv6 loopback: " << std::strerror(errno);
  const std::string authority = "[::1]:" + std::to_string(port);
  CliRun run = ember({"delete", "hello", "--endpoint", "http://" + authority});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "Deleted hello.\n");
  EXPECT_EQ(server_->requests().at(0).header("Host"), authority);
}

TEST_F(CliEndToEndTest, ExplainsAnUnreachableTcpEndpoint) {
  const LoopbackSocket bound = bind_loopback(AF_INET, false);  // bound, not listening
  const uint16_t port = bound.port;
  ASSERT_NE(port, 0) << std::strerror(errno);
  const std::string authority = "127.0.0.1:" + std::to_string(port);
  CliRun run = ember({"list", "--endpoint", "http://" + authority});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err, "ember: cannot reach emberd at http://" + authority +
                         ": Connection refused; is emberd running with --listen " + authority +
                         "?\n");
}

TEST_F(CliEndToEndTest, EndpointUsageErrorsExitTwo) {
  CliRun both = ember({"list", "--socket", socket_, "--endpoint", "127.0.0.1:9000"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_EQ(both.err.rfind("ember: give either --socket PATH or --endpoint URL, not both\n", 0),
            0u)
      << both.err;
  CliRun tls = ember({"list", "--endpoint", "https://127.0.0.1:9000"});
  EXPECT_EQ(tls.exit_code, 2);
  EXPECT_EQ(tls.err.rfind("ember: --endpoint 'https://127.0.0.1:9000': TLS is not supported", 0),
            0u)
      << tls.err;
  CliRun env = finish(start({"list"}, {}, std::nullopt, "127.0.0.1:0"));
  EXPECT_EQ(env.exit_code, 2);
  EXPECT_EQ(env.err.rfind("ember: EMBER_ENDPOINT '127.0.0.1:0': the port must be", 0), 0u)
      << env.err;
}

}  // namespace
}  // namespace ember::cli

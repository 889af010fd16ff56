// emberd_request: emberd's request path in one process, from raw bytes on a connection to
// the answer: Beast's HTTP parser and the server's limits, SigV4 on TCP, the router and the
// JSON validation of every API emberd serves (Lambda, event invoke configs, function URLs,
// Scheduler, event source mappings), on real stores in a temporary directory, with a
// FakeInvoker behind the invoke routes.
//
// Input: the first byte picks the listener (even: the Unix socket, which is trusted and
// reaches the routes; odd: TCP on loopback, where every request must be signed), the rest
// is sent as is, then the client's side is shut. Invariants: the first answer is an HTTP/1.x
// status line with a code in 200-499 (a 5xx is a route failing on bad input: a finding),
// the server closes the connection within a deadline once the input is used up, and it
// still answers a well-formed request afterwards.
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/unique_fd.h"
#include "fuzz/fuzz_support.h"
#include "host/api/event_invoke_config_api.h"
#include "host/api/event_source_mapping_api.h"
#include "host/api/fake_invoker.h"
#include "host/api/function_url_api.h"
#include "host/api/http_server.h"
#include "host/api/lambda_api.h"
#include "host/api/request_auth.h"
#include "host/api/scheduler_api.h"
#include "host/logs/function_logs.h"
#include "host/store/code_store.h"
#include "host/store/event_invoke_config_store.h"
#include "host/store/event_queue.h"
#include "host/store/event_source_mapping_store.h"
#include "host/store/function_store.h"
#include "host/store/function_url_store.h"
#include "host/store/schedule_store.h"

namespace ember::fuzz {
namespace {

using host::HttpServer;
using namespace std::chrono_literals;

// How long the server may take to answer an input and close the connection.
constexpr auto kAnswerDeadline = 10s;

template <typename T>
T opened(Result<T> result, const char* what) {
  if (!result.ok()) {
    std::fprintf(stderr, "emberd_request: cannot open %s: %s\n", what,
                 result.error().message().c_str());
    std::exit(1);
  }
  return std::move(result).value();
}

// emberd's objects as daemon.cc wires them, minus VMs, pollers and the dispatcher.
struct Emberd {
  std::string dir;
  host::FunctionStore functions;
  host::CodeStore code;
  host::FunctionLogs logs;
  host::FakeInvoker invoker;
  std::unique_ptr<host::EventQueue> events;
  host::EventInvokeConfigStore event_configs;
  host::FunctionUrlStore urls;
  host::ScheduleStore schedules;
  host::EventSourceMappingStore mappings;
  host::LambdaApi api;
  host::EventInvokeConfigApi event_config_api;
  host::FunctionUrlApi url_api;
  host::SchedulerApi scheduler_api;
  host::EventSourceMappingApi mapping_api;
  host::RequestAuthenticator authenticator;
  host::AuthenticatingHandler authenticating;
  HttpServer server;
  std::string unix_path;
  uint16_t tcp_port = 0;

  explicit Emberd(std::string state)
      : dir(std::move(state)),
        functions(opened(host::FunctionStore::open(dir + "/functions.db"), "functions")),
        code(opened(host::CodeStore::open(dir + "/code"), "code")),
        logs(dir + "/logs"),
        events(opened(host::EventQueue::open(dir + "/events.db"), "events")),
        event_configs(opened(host::EventInvokeConfigStore::open(dir + "/functions.db"), "configs")),
        urls(opened(host::FunctionUrlStore::open(dir + "/functions.db"), "urls")),
        schedules(opened(host::ScheduleStore::open(dir + "/functions.db"), "schedules")),
        mappings(opened(host::EventSourceMappingStore::open(dir + "/functions.db"), "mappings")),
        api(functions, code, logs, invoker),
        event_config_api(functions, event_configs, "us-east-1"),
        url_api(functions, urls, api.runner(), "http://127.0.0.1:9000"),
        scheduler_api(schedules, host::SchedulerApiOptions{}),
        mapping_api(functions, mappings, "us-east-1", {"local"}),
        authenticator(host::RequestAuthOptions{.keys = {{"AKIAFUZZ", "fuzz-secret"}}}),
        authenticating(api, authenticator),
        server(authenticating, host::HttpServerOptions{.idle_timeout = 2s, .request_timeout = 2s}) {
    api.accept_events(*events);
    event_config_api.add_routes(api.router());
    url_api.add_routes(api.router());
    scheduler_api.add_routes(api.router());
    mapping_api.add_routes(api.router());
    api.on_function_deleted([this](const std::string& name) {
      (void)events->drop_function(name);
      (void)event_configs.remove(name);
      url_api.function_deleted(name);
      mapping_api.function_deleted(name);
    });
    unix_path = dir + "/api.sock";
    std::vector<host::Listener> listeners;
    listeners.push_back(opened(host::Listener::unix_socket(unix_path), "the Unix listener"));
    listeners.push_back(opened(host::Listener::tcp("127.0.0.1:0"), "the TCP listener"));
    tcp_port = listeners.back().port();
    if (Status s = server.start(std::move(listeners)); !s.ok()) {
      std::fprintf(stderr, "emberd_request: %s\n", s.error().message().c_str());
      std::exit(1);
    }
  }
};

Emberd& emberd() {
  static Emberd* instance = [] {
    char tmpl[] = "/tmp/ember-fuzz-emberd-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::perror("emberd_request: mkdtemp");
      std::exit(1);
    }
    static std::string made = tmpl;
    std::atexit([] { std::filesystem::remove_all(made); });
    return new Emberd(tmpl);  // lives as long as the process: threads serve from it
  }();
  return *instance;
}

UniqueFd connect_to(bool tcp) {
  Emberd& d = emberd();
  UniqueFd fd(::socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EMBER_FUZZ_ASSERT(fd.get() >= 0);
  int rc;
  if (tcp) {
    // The harness closes first, so each exchange would leave a loopback port in TIME_WAIT
    // for a minute: at a thousand exchanges a second they run out. Closed with a reset
    // instead, once the answer is read.
    const linger abort_on_close{1, 0};
    EMBER_FUZZ_ASSERT(::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &abort_on_close,
                                   sizeof abort_on_close) == 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(d.tcp_port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
  } else {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, d.unix_path.c_str(), sizeof address.sun_path - 1);
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  if (rc != 0) {  // which errno tells emberd's refusal from the harness's own limits
    std::fprintf(stderr, "emberd_request: connect over %s: %s\n", tcp ? "TCP" : "the Unix socket",
                 std::strerror(errno));
  }
  EMBER_FUZZ_ASSERT(rc == 0);
  return fd;
}

// Sends request (the server may stop reading early: a refused request), shuts the sending
// side, and reads until the server closes; everything it answered.
std::string exchange(bool tcp, std::string_view request) {
  UniqueFd fd = connect_to(tcp);
  const auto deadline = std::chrono::steady_clock::now() + kAnswerDeadline;
  size_t sent = 0;
  std::string answer;
  bool shut = false;
  char buffer[16384];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    EMBER_FUZZ_ASSERT(left.count() > 0);  // the server neither answered nor closed
    if (sent == request.size() && !shut) {
      ::shutdown(fd.get(), SHUT_WR);
      shut = true;
    }
    pollfd p{fd.get(), static_cast<short>(POLLIN | (shut ? 0 : POLLOUT)), 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
      if (n <= 0) return answer;  // closed (or reset after a refusal)
      answer.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (p.revents & POLLOUT) {
      const ssize_t n =
          ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0) {  // the server closed its side: it refused the request
        sent = request.size();
        shut = true;
        continue;
      }
      sent += static_cast<size_t>(n);
    }
  }
}

// The first answer's status line: HTTP/1.1, or HTTP/1.0 for a 1.0 request, with a code in
// 200-499. (Later answers on a pipelined connection are not parsed: bodies may contain
// anything.)
void check_answer(std::string_view answer) {
  if (answer.empty()) return;  // closed without answering: a connection reset mid-request
  EMBER_FUZZ_ASSERT(answer.substr(0, 9) == "HTTP/1.1 " || answer.substr(0, 9) == "HTTP/1.0 ");
  EMBER_FUZZ_ASSERT(answer.size() >= 12);
  const std::string_view code = answer.substr(9, 3);
  for (char c : code) EMBER_FUZZ_ASSERT(c >= '0' && c <= '9');
  const int status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  if (status >= 500) {
    std::fprintf(stderr, "emberd_request: answered %d:\n%.*s\n", status,
                 static_cast<int>(std::min<size_t>(answer.size(), 2000)), answer.data());
  }
  EMBER_FUZZ_ASSERT(status >= 200 && status < 500);
}

// The server still serves: a plain ListFunctions on the trusted socket answers 200.
void check_alive() {
  const std::string answer =
      exchange(false, "GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EMBER_FUZZ_ASSERT(answer.substr(0, 12) == "HTTP/1.1 200");
}

void write_seeds(const std::string& dir) {
  const std::string create =
      R"({"FunctionName":"f","Runtime":"python3.11","Role":"arn:aws:iam::123456789012:role/r",)"
      R"("Handler":"app.handler","Code":{"ZipFile":"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}})";
  auto post = [](std::string_view path, std::string_view body) {
    return "POST " + std::string(path) + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
  };
  write_seed(dir, "list", std::string("\0", 1) + "GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\n\r\n");
  write_seed(dir, "create", std::string("\0", 1) + post("/2015-03-31/functions", create));
  write_seed(dir, "invoke", std::string("\0", 1) +
                                post("/2015-03-31/functions/f/invocations", R"({"a":1})"));
  write_seed(dir, "event_config",
             std::string("\0", 1) +
                 "PUT /2019-09-25/functions/f/event-invoke-config HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 26\r\n\r\n{\"MaximumRetryAttempts\":1}");
  write_seed(dir, "url", std::string("\0", 1) +
                             post("/2021-10-31/functions/f/url", R"({"AuthType":"NONE"})"));
  write_seed(dir, "schedule",
             std::string("\0", 1) +
                 post("/schedules/s",
                      R"j({"ScheduleExpression":"rate(1 minute)","FlexibleTimeWindow":)j"
                      R"j({"Mode":"OFF"},"Target":{"Arn":)j"
                      R"j("arn:aws:lambda:us-east-1:123456789012:function:f",)j"
                      R"j("RoleArn":"arn:aws:iam::123456789012:role/r"}})j"));
  write_seed(dir, "mapping",
             std::string("\0", 1) +
                 post("/2015-03-31/event-source-mappings/",
                      R"({"FunctionName":"f","EventSourceArn":"arn:ember:redis:local:stream/s",)"
                      R"("BatchSize":10,"StartingPosition":"TRIM_HORIZON"})"));
  write_seed(dir, "signed_tcp",
             "\x01GET /2015-03-31/functions/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "X-Amz-Date: 20260101T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 "
             "Credential=AKIAFUZZ/20260101/us-east-1/lambda/aws4_request, "
             "SignedHeaders=host;x-amz-date, Signature=00\r\n\r\n");
  write_seed(dir, "pipelined",
             std::string("\0", 1) + "GET /2015-03-31/functions/f HTTP/1.1\r\nHost: x\r\n\r\n"
                                    "DELETE /2015-03-31/functions/f HTTP/1.1\r\nHost: x\r\n\r\n");
  write_seed(dir, "chunked", std::string("\0", 1) +
                                 "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n");
}

}  // namespace
}  // namespace ember::fuzz

EMBER_FUZZ_SEEDS(ember::fuzz::write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember::fuzz;
  if (size == 0) return 0;
  static uint64_t runs = 0;
  const bool tcp = (data[0] & 1) != 0;
  const std::string_view request(reinterpret_cast<const char*>(data) + 1, size - 1);
  check_answer(exchange(tcp, request));
  // The connection's thread is done too (and no serving thread is mid-request when the run
  // ends, which LeakSanitizer would report).
  EMBER_FUZZ_ASSERT(emberd().server.wait_idle(std::chrono::seconds(5)));
  if (++runs % 256 == 0) check_alive();
  return 0;
}

// RuntimeApiServer: an accept thread and one blocking thread per connection (a runtime keeps
// one connection, so there are few), each parsing requests and routing them to the broker.
#include "guest-agent/runtime_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "guest-agent/lambda_error.h"
#include "guest-agent/session_server.h"

namespace ember::agent {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kNextPath = "/2018-06-01/runtime/invocation/next";
constexpr std::string_view kInitErrorPath = "/2018-06-01/runtime/init/error";
constexpr size_t kMaxConnections = 32;
// After refusing a request, its unread body is drained for this long so that the client
// reads the answer instead of a connection reset.
constexpr auto kLingerAfterRefusal = std::chrono::seconds(2);
constexpr size_t kMaxLingerBytes = 64u << 20;

std::string json_response(int status, std::string_view body, bool keep_alive,
                          Headers headers = {}) {
  headers.emplace_back("Content-Type", "application/json");
  return format_http_response(status, headers, body, keep_alive);
}

std::string api_error(int status, std::string_view error_type, std::string_view message,
                      bool keep_alive) {
  return json_response(status, lambda_error_json(error_type, message), keep_alive);
}

// Reads and drops what the client still sends, until it closes or the linger time is up.
void linger(int fd) {
  ::shutdown(fd, SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + kLingerAfterRefusal;
  std::vector<char> buf(64 * 1024);
  size_t total = 0;
  while (total < kMaxLingerBytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n == 0 || (n < 0 && errno != EINTR)) return;
    if (n > 0) total += static_cast<size_t>(n);
  }
}

// "{id}" of /2018-06-01/runtime/invocation/{id}/<action>, or empty.
std::string_view invocation_id(std::string_view path, std::string_view action) {
  constexpr std::string_view kInvocation = "/2018-06-01/runtime/invocation/";
  if (!path.starts_with(kInvocation) || !path.ends_with(action)) return {};
  path.remove_prefix(kInvocation.size());
  path.remove_suffix(action.size());
  if (path.empty() || path.find('/') != std::string_view::npos) return {};
  return path;
}

std::string too_large_message() {
  return "Exceeded maximum allowed payload size (" + std::to_string(kMaxInvokePayload) + " bytes).";
}

}  // namespace

Result<std::unique_ptr<RuntimeApiServer>> RuntimeApiServer::start(uint16_t port,
                                                                  InvocationBroker& broker) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return errno_error("socket(AF_INET)");
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return errno_error("bind the Runtime API", "127.0.0.1:" + std::to_string(port));
  }
  if (::listen(s.get(), 16) != 0) return errno_error("listen on the Runtime API");
  socklen_t len = sizeof addr;
  if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return errno_error("getsockname");
  }
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  if (!stop) return errno_error("eventfd");
  std::unique_ptr<RuntimeApiServer> server(
      new RuntimeApiServer(std::move(s), std::move(stop), ntohs(addr.sin_port), broker));
  server->accept_thread_ = std::thread([raw = server.get()] { raw->accept_loop(); });
  return server;
}

RuntimeApiServer::~RuntimeApiServer() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(stop_.get(), &one, sizeof one);
  if (accept_thread_.joinable()) accept_thread_.join();
  for (auto& c : connections_) ::shutdown(c->fd.get(), SHUT_RDWR);
  for (auto& c : connections_) c->thread.join();
}

void RuntimeApiServer::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;  // EINTR
    if (fds[1].revents) return;
    if (!fds[0].revents) continue;
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) continue;  // ECONNABORTED, EMFILE: the next connection may do better
    connections_.remove_if([](const std::unique_ptr<Connection>& c) {
      if (!c->finished) return false;
      c->thread.join();
      return true;
    });
    if (connections_.size() >= kMaxConnections) continue;  // closed: too many at once
    auto c = std::make_unique<Connection>();
    c->fd = std::move(conn);
    Connection* raw = c.get();
    c->thread = std::thread([this, raw] {
      serve(raw->fd.get());
      ::shutdown(raw->fd.get(), SHUT_RDWR);
      raw->finished = true;
    });
    connections_.push_back(std::move(c));
  }
}

void RuntimeApiServer::serve(int fd) {
  HttpRequestParser parser(HttpLimits{.max_body_bytes = kMaxInvokePayload});
  std::vector<char> buf(64 * 1024);
  for (;;) {
    while (std::optional<HttpRequest> request = parser.next()) {
      if (!handle(fd, *request)) return;
    }
    if (parser.error()) {
      answer_parse_error(fd, *parser.error());
      return;
    }
    if (parser.take_continue_request() && !send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n").ok()) {
      return;
    }
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    parser.feed(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
}

void RuntimeApiServer::answer_parse_error(int fd, const HttpParseError& error) {
  if (error.status == 413 && error.head) {
    // A response or error this large ends its invocation, as in Lambda.
    std::string_view path = error.head->path();
    std::string_view id = invocation_id(path, "/response");
    if (id.empty()) id = invocation_id(path, "/error");
    if (!id.empty()) {
      std::string message = "Response payload size exceeded maximum allowed payload size (" +
                            std::to_string(kMaxInvokePayload) + " bytes).";
      broker_.post_error(id, "Function.ResponseSizeTooLarge",
                         lambda_error_json("Function.ResponseSizeTooLarge", message));
    }
    (void)send_all(fd, api_error(413, "RequestEntityTooLarge", too_large_message(), false));
  } else {
    (void)send_all(fd, api_error(error.status, "InvalidRequest", error.message, false));
  }
  linger(fd);
}

bool RuntimeApiServer::handle(int fd, const HttpRequest& request) {
  if (request.path() == kNextPath && request.method == "GET") return handle_next(fd, request);
  return send_all(fd, answer(request)).ok() && request.keep_alive();
}

std::string RuntimeApiServer::answer(const HttpRequest& request) {
  const bool keep = request.keep_alive();
  const std::string_view path = request.path();
  const std::string_view response_id = invocation_id(path, "/response");
  const std::string_view error_id = invocation_id(path, "/error");
  const char* allowed = nullptr;
  if (path == kNextPath) {
    allowed = "GET";
  } else if (path == kInitErrorPath || !response_id.empty() || !error_id.empty()) {
    allowed = "POST";
  }
  if (allowed == nullptr) {
    return api_error(404, "NotFound", "no such path: " + std::string(path), keep);
  }
  if (request.method != allowed) {
    return json_response(405, lambda_error_json("MethodNotAllowed", std::string("use ") + allowed),
                         keep, {{"Allow", allowed}});
  }
  const std::string accepted = json_response(202, R"({"status":"OK"})", keep);
  auto error_type = [&] {
    return posted_error_type(request.header("Lambda-Runtime-Function-Error-Type"), request.body);
  };
  if (path == kInitErrorPath) {
    if (broker_.post_init_error(error_type(), request.body) == InvocationBroker::Post::kAccepted) {
      return accepted;
    }
    return api_error(403, "InvalidStateTransition", "Invalid state transition: init is over", keep);
  }
  InvocationBroker::Post post = response_id.empty()
                                    ? broker_.post_error(error_id, error_type(), request.body)
                                    : broker_.post_response(response_id, request.body);
  if (post == InvocationBroker::Post::kAccepted) return accepted;
  return api_error(400, "InvalidRequestID", "Invalid request ID", keep);
}

bool RuntimeApiServer::handle_next(int fd, const HttpRequest& request) {
  const bool keep = request.keep_alive();
  std::optional<Invoke> invoke = broker_.next(fd);
  if (!invoke) return false;
  Headers headers = {
      {"Lambda-Runtime-Aws-Request-Id", invoke->request_id},
      {"Lambda-Runtime-Deadline-Ms", std::to_string(broker_.deadline_unix_ms())},
      {"Lambda-Runtime-Invoked-Function-Arn", invoke->invoked_function_arn},
      {"Ember-Restore-Count", std::to_string(broker_.restores())},
  };
  if (!invoke->trace_id.empty()) headers.emplace_back("Lambda-Runtime-Trace-Id", invoke->trace_id);
  if (!invoke->client_context.empty()) {
    headers.emplace_back("Lambda-Runtime-Client-Context", invoke->client_context);
  }
  if (!invoke->cognito_identity.empty()) {
    headers.emplace_back("Lambda-Runtime-Cognito-Identity", invoke->cognito_identity);
  }
  if (!send_all(fd, json_response(200, invoke->payload, keep, std::move(headers))).ok()) {
    broker_.undeliver(std::move(*invoke));
    return false;
  }
  return keep;
}

}  // namespace ember::agent

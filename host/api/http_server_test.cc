// Tests for HttpServer + LambdaApi over real sockets: bad requests get 4xx, serving goes on.
#include "host/api/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "host/api/api_test_fixture.h"
#include "host/api/request_auth.h"

namespace ember::host {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// A raw client connection: writes bytes, reads what comes back.
class RawClient {
 public:
  explicit RawClient(const std::string& socket_path) {
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    socket_path.copy(address.sun_path, sizeof address.sun_path - 1);
    connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  bool connected() const { return connected_; }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads until `count` complete responses (by Content-Length) arrived, the peer closed, or
  // the timeout; everything read.
  std::string read_responses(size_t count, milliseconds timeout = milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (complete_responses() < count && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buffer[65536];
      const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
      if (n <= 0) break;
      received_.append(buffer, static_cast<size_t>(n));
    }
    return received_;
  }

  // True when the server closed the connection within the timeout.
  bool closed_by_server(milliseconds timeout) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char byte;
    return ::recv(fd_.get(), &byte, 1, MSG_PEEK) == 0;
  }

 private:
  size_t complete_responses() const {
    size_t count = 0;
    size_t at = 0;
    while (true) {
      const size_t end = received_.find("\r\n\r\n", at);
      if (end == std::string::npos) return count;
      const std::string head = received_.substr(at, end - at);
      size_t length = 0;
      const size_t field = head.find("Content-Length: ");
      if (field != std::string::npos) length = std::stoul(head.substr(field + 16));
      if (head.rfind("HTTP/1.1 100", 0) == 0) length = 0;
      if (received_.size() < end + 4 + length) return count;
      ++count;
      at = end + 4 + length;
    }
  }

  UniqueFd fd_;
  bool connected_ = false;
  std::string received_;
};

std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

class HttpServerTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    socket_ = dir_ + "/run/ember.sock";
    start({});
  }
  void TearDown() override {
    server_.reset();
    ApiTest::TearDown();
  }
  void start(HttpServerOptions options) {
    server_.reset();
    server_ = std::make_unique<HttpServer>(*api_, options);
    auto listener = Listener::unix_socket(socket_);
    ASSERT_TRUE(listener.ok()) << listener.error().message();
    std::vector<Listener> listeners;
    listeners.push_back(std::move(listener).value());
    ASSERT_TRUE(server_->start(std::move(listeners)).ok());
  }

  // One request on a fresh connection; the whole response text.
  std::string exchange(const std::string& request) {
    RawClient client(socket_);
    EXPECT_TRUE(client.connected());
    client.send(request);
    return client.read_responses(1);
  }
  std::string list_request() { return "GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\n\r\n"; }
  void expect_healthy() { EXPECT_EQ(status_line(exchange(list_request())), "HTTP/1.1 200 OK"); }

  std::string socket_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesOverAUnixSocketWithMode0660) {
  EXPECT_EQ(std::filesystem::status(socket_).permissions(), std::filesystem::perms(0660));
  const std::string response = exchange(list_request());
  EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK");
  EXPECT_NE(response.find("{\"Functions\":[]}"), std::string::npos);
  EXPECT_NE(response.find("x-amzn-RequestId: "), std::string::npos);
}

TEST_F(HttpServerTest, KeepsConnectionsAliveAcrossRequests) {
  RawClient client(socket_);
  const json body = create_body("kept");
  const std::string create_request =
      "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n"
      "Content-Length: " +
      std::to_string(body.dump().size()) + "\r\n\r\n" + body.dump();
  client.send(create_request + list_request());  // pipelined
  const std::string both = client.read_responses(2);
  EXPECT_EQ(status_line(both), "HTTP/1.1 201 Created");
  EXPECT_NE(both.find("\"FunctionName\":\"kept\"", both.find("HTTP/1.1 200 OK")),
            std::string::npos);
}

TEST_F(HttpServerTest, MalformedRequestsGet400AndTheServerKeepsServing) {
  for (const std::string& garbage :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n"),
        std::string("GET /x HTTP/1.1\r\nBad Header Line\r\n\r\n"),
        std::string("POST /2015-03-31/functions HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
        std::string("\x01\x02\x03\xff\r\n\r\n", 8)}) {
    const std::string response = exchange(garbage);
    EXPECT_EQ(status_line(response), "HTTP/1.1 400 Bad Request") << garbage;
    EXPECT_NE(response.find("x-amzn-ErrorType: BadRequestException"), std::string::npos);
  }
  expect_healthy();
}

TEST_F(HttpServerTest, HugeHeadersGet431) {
  const std::string response = exchange(
      "GET /2015-03-31/functions/ HTTP/1.1\r\nX-Big: " + std::string(70 * 1024, 'h') + "\r\n\r\n");
  EXPECT_EQ(status_line(response).substr(0, 12), "HTTP/1.1 431");
  expect_healthy();
}

TEST_F(HttpServerTest, OversizedInvokeBodyGets413WhileTheClientStillSends) {
  create_ok("big");
  const size_t size = 7 * 1024 * 1024;
  RawClient client(socket_);
  client.send(
      "POST /2015-03-31/functions/big/invocations HTTP/1.1\r\nHost: x\r\n"
      "Content-Length: " +
      std::to_string(size) + "\r\n\r\n");
  auto sender = std::async(std::launch::async, [&] { return client.send(std::string(size, 'x')); });
  const std::string response = client.read_responses(1);
  sender.wait();
  EXPECT_EQ(status_line(response), "HTTP/1.1 413 Payload Too Large");
  EXPECT_NE(response.find("x-amzn-ErrorType: RequestTooLargeException"), std::string::npos);
  EXPECT_NE(response.find("Request must be smaller than 6291456 bytes for the InvokeFunction "
                          "operation"),
            std::string::npos);
  EXPECT_TRUE(invoker_.seen().empty());
  expect_healthy();
}

TEST_F(HttpServerTest, OversizedChunkedBodyGets413) {
  std::string request =
      "PUT /2015-03-31/functions/x/configuration HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(512 * 1024, 'c');
  for (int i = 0; i < 3; ++i) request += "80000\r\n" + chunk + "\r\n";  // 1.5 MiB > 1 MiB
  request += "0\r\n\r\n";
  RawClient client(socket_);
  auto sender = std::async(std::launch::async, [&] { return client.send(request); });
  const std::string response = client.read_responses(1);
  sender.wait();
  EXPECT_EQ(status_line(response), "HTTP/1.1 413 Payload Too Large");
  expect_healthy();
}

TEST_F(HttpServerTest, ExpectContinueIsHonoured) {
  // Too large: refused before the body is sent.
  RawClient refused(socket_);
  refused.send(
      "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: 80000000\r\n\r\n");
  EXPECT_EQ(status_line(refused.read_responses(1)), "HTTP/1.1 413 Payload Too Large");
  // Acceptable: 100 Continue, then the real answer.
  const std::string body = create_body("continued").dump();
  RawClient client(socket_);
  client.send(
      "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  EXPECT_EQ(status_line(client.read_responses(1)), "HTTP/1.1 100 Continue");
  client.send(body);
  const std::string response = client.read_responses(2);
  EXPECT_NE(response.find("HTTP/1.1 201 Created"), std::string::npos);
}

TEST_F(HttpServerTest, BadJsonAndUnknownRoutesOverTheWire) {
  const std::string bad_json =
      exchange("POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{oops");
  EXPECT_EQ(status_line(bad_json), "HTTP/1.1 400 Bad Request");
  EXPECT_NE(bad_json.find("x-amzn-ErrorType: InvalidRequestContentException"), std::string::npos);
  const std::string unknown = exchange("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_line(unknown), "HTTP/1.1 404 Not Found");
  expect_healthy();
}

TEST_F(HttpServerTest, ServesOverTcpToo) {
  server_.reset();
  server_ = std::make_unique<HttpServer>(*api_);
  auto tcp = Listener::tcp("127.0.0.1:0");
  ASSERT_TRUE(tcp.ok()) << tcp.error().message();
  const uint16_t port = tcp->port();
  ASSERT_NE(port, 0);
  EXPECT_EQ(tcp->description(), "tcp:127.0.0.1:" + std::to_string(port));
  std::vector<Listener> listeners;
  listeners.push_back(std::move(tcp).value());
  ASSERT_TRUE(server_->start(std::move(listeners)).ok());
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string request = list_request();
  ASSERT_EQ(::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  while (response.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    ASSERT_GT(n, 0);
    response.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK");
}

// With an AuthenticatingHandler in front, an unsigned request is refused over TCP and served
// over the Unix socket: the server tells the handler which listener a request came from.
TEST_F(HttpServerTest, OnlyTcpRequestsAreAuthenticated) {
  server_.reset();
  const RequestAuthenticator authenticator(RequestAuthOptions{.keys = {{"AKID", "secret"}}});
  AuthenticatingHandler authenticating(*api_, authenticator);
  server_ = std::make_unique<HttpServer>(authenticating);
  auto tcp = Listener::tcp("127.0.0.1:0");
  ASSERT_TRUE(tcp.ok()) << tcp.error().message();
  const uint16_t port = tcp->port();
  auto unix_listener = Listener::unix_socket(socket_);
  ASSERT_TRUE(unix_listener.ok()) << unix_listener.error().message();
  std::vector<Listener> listeners;
  listeners.push_back(std::move(tcp).value());
  listeners.push_back(std::move(unix_listener).value());
  ASSERT_TRUE(server_->start(std::move(listeners)).ok());

  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string request = list_request();
  ASSERT_EQ(::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  while (response.find("Missing Authentication Token") == std::string::npos) {
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    ASSERT_GT(n, 0) << response;
    response.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_EQ(status_line(response), "HTTP/1.1 403 Forbidden");
  EXPECT_NE(response.find("x-amzn-ErrorType: MissingAuthenticationTokenException"),
            std::string::npos);

  RawClient over_unix(socket_);
  ASSERT_TRUE(over_unix.connected());
  over_unix.send(list_request());
  EXPECT_EQ(status_line(over_unix.read_responses(1)), "HTTP/1.1 200 OK");
  server_.reset();  // before `authenticating` goes
}

TEST_F(HttpServerTest, AClientOverTheConnectionBoundGetsA503) {
  start({.max_connections = 1, .idle_timeout = milliseconds(500)});
  RawClient first(socket_);
  first.send(list_request());
  ASSERT_EQ(status_line(first.read_responses(1)), "HTTP/1.1 200 OK");
  // `first` stays open and idle: the second client is over the bound.
  {
    RawClient second(socket_);
    second.send(list_request());
    const std::string refused = second.read_responses(1);
    EXPECT_EQ(status_line(refused), "HTTP/1.1 503 Service Unavailable");
    EXPECT_NE(refused.find("x-amzn-ErrorType: ServiceUnavailableException"), std::string::npos);
    EXPECT_NE(refused.find("--max-connections"), std::string::npos);
    EXPECT_TRUE(second.closed_by_server(milliseconds(1000)));
  }
  // Once the idle timeout closed `first`, there is room again.
  EXPECT_TRUE(first.closed_by_server(milliseconds(1500)));
  ASSERT_TRUE(server_->wait_idle(milliseconds(1000)));
  expect_healthy();
}

TEST_F(HttpServerTest, ARequestMustArriveWholeWithinItsDeadline) {
  start({.request_timeout = milliseconds(600)});
  // A slow client sends a byte every 100 ms: each read makes progress, the request never
  // ends, and the whole-request deadline closes it.
  RawClient slow(socket_);
  const std::string request = list_request();
  const auto started = std::chrono::steady_clock::now();
  bool closed = false;
  for (size_t i = 0; i < request.size() - 1 && !closed; ++i) {
    slow.send(request.substr(i, 1));
    closed = slow.closed_by_server(milliseconds(100));
  }
  EXPECT_TRUE(closed || slow.closed_by_server(milliseconds(1000)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(2500));
  // The server forgets a connection just after closing it: on a loaded machine the client
  // can see the close first.
  EXPECT_TRUE(server_->wait_idle(milliseconds(1000)));
  EXPECT_EQ(server_->open_connections(), 0u);
  expect_healthy();
}

TEST_F(HttpServerTest, IdleAndSlowClientsHoldNoHandlerThread) {
  start({.handler_threads = 1});
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(std::make_unique<RawClient>(socket_));
    ASSERT_TRUE(idle.back()->connected());
    if (i % 2 == 0) idle.back()->send("POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n");
  }
  // With one handler thread, every request still gets its answer.
  for (int i = 0; i < 5; ++i) expect_healthy();
  EXPECT_GE(server_->open_connections(), 300u);
}

TEST_F(HttpServerTest, InvocationsWaitingOnTheirVmsHoldNoHandlerThread) {
  create_ok("parked");
  invoker_.park_invocations = true;
  start({.handler_threads = 1});
  std::vector<std::unique_ptr<RawClient>> invoking;
  for (int i = 0; i < 3; ++i) {
    const std::string payload = "{\"n\":" + std::to_string(i) + "}";
    invoking.push_back(std::make_unique<RawClient>(socket_));
    invoking.back()->send("POST /2015-03-31/functions/parked/invocations HTTP/1.1\r\nHost: x\r\n"
                          "Content-Length: " + std::to_string(payload.size()) + "\r\n\r\n" +
                          payload);
  }
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(5000);
  while (invoker_.parked() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_EQ(invoker_.parked(), 3u);
  // Three invocations are pending on the one handler thread's server: it still answers.
  expect_healthy();
  EXPECT_EQ(invoking[0]->read_responses(1, milliseconds(200)), "");
  invoker_.answer_parked();
  for (int i = 0; i < 3; ++i) {
    const std::string response = invoking[i]->read_responses(1);
    EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK");
    EXPECT_NE(response.find("{\"n\":" + std::to_string(i) + "}"), std::string::npos) << response;
  }
}

TEST_F(HttpServerTest, StopFinishesInFlightRequestsAndClosesIdleOnes) {
  create_ok("slow");
  invoker_.sleep = milliseconds(500);
  RawClient idle(socket_);
  idle.send(list_request());
  ASSERT_EQ(status_line(idle.read_responses(1)), "HTTP/1.1 200 OK");
  RawClient busy(socket_);
  busy.send(
      "POST /2015-03-31/functions/slow/invocations HTTP/1.1\r\nHost: x\r\n"
      "Content-Length: 2\r\n\r\n{}");
  std::this_thread::sleep_for(milliseconds(100));  // the invocation is running
  server_->stop();
  EXPECT_FALSE(std::filesystem::exists(socket_));  // no new clients
  EXPECT_TRUE(idle.closed_by_server(milliseconds(1000)));
  const std::string response = busy.read_responses(1);
  EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK");
  EXPECT_NE(response.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(server_->wait_idle(milliseconds(5000)));  // after its 2 s drain
  EXPECT_EQ(server_->open_connections(), 0u);
}

TEST(Listener, RefusesASocketSomeoneServesAndReplacesAStaleOne) {
  char tmpl[] = "/tmp/ember-listener-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/sub/dir/e.sock";
  {
    auto first = Listener::unix_socket(path);
    ASSERT_TRUE(first.ok()) << first.error().message();
    auto second = Listener::unix_socket(path);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().message().find("another process"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(path));  // removed with its listener
  {
    // A stale socket file (nobody listening) is replaced.
    UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, path.size());
    ASSERT_EQ(::bind(stale.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  }
  EXPECT_TRUE(Listener::unix_socket(path).ok());
  const std::string file = std::string(tmpl) + "/plain";
  std::ofstream(file) << "x";
  EXPECT_FALSE(Listener::unix_socket(file).ok());  // never deletes a non-socket
  EXPECT_FALSE(Listener::tcp("nonsense").ok());
  EXPECT_FALSE(Listener::tcp("127.0.0.1:99999").ok());
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace ember::host

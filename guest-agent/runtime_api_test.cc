// Tests for RuntimeApiServer over real loopback TCP: routes, statuses, keep-alive, chunked
// and 100-continue bodies, refusals, and `next` blocking until an invocation is queued.
#include "guest-agent/runtime_api.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <future>
#include <thread>

namespace ember::agent {
namespace {

using std::chrono::milliseconds;

struct Response {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// A raw HTTP client on one connection.
class Client {
 public:
  explicit Client(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv = {5, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // One response with a Content-Length body; status 0 when the connection closed first.
  Response read() {
    Response r;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return r;
    }
    r.head = buffer_.substr(0, end + 2);
    buffer_.erase(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    size_t at = r.head.find("Content-Length: ");
    size_t length = at == std::string::npos ? 0 : std::stoul(r.head.substr(at + 16));
    while (buffer_.size() < length) {
      if (!fill()) return Response{};
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }
  Response request(const std::string& bytes) {
    send(bytes);
    return read();
  }
  bool closed_by_server() {
    char c;
    return ::recv(fd_.get(), &c, 1, 0) == 0;
  }

 private:
  bool fill() {
    char buf[65536];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }
  UniqueFd fd_;
  std::string buffer_;
};

std::string post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extra + "\r\n" + body;
}
const std::string kNext = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";

class RuntimeApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
  void SetUp() override {
    auto s = RuntimeApiServer::start(0, broker_);
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(s).value();
    ASSERT_GT(server_->port(), 0);
  }
  void TearDown() override {
    broker_.close();
    server_.reset();
  }
  // The runtime's `next` on `client`, answered once `invoke` is queued.
  Response next_with(Client& client, const Invoke& invoke) {
    client.send(kNext);
    auto init = broker_.wait_init(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    EXPECT_EQ(init.kind, InitOutcome::kReady);
    EXPECT_TRUE(broker_.begin(invoke).ok());
    return client.read();
  }
  static Invoke sample(const std::string& id) {
    Invoke i;
    i.request_id = id;
    i.budget_ms = 3000;
    i.invoked_function_arn = "arn:aws:lambda:us-east-1:1:function:f";
    i.payload = R"({"n":1})";
    return i;
  }

  InvocationBroker broker_;
  std::unique_ptr<RuntimeApiServer> server_;
};

TEST_F(RuntimeApiTest, NextCarriesTheEventAndItsHeaders) {
  Client c(server_->port());
  Invoke i = sample("id-1");
  i.trace_id = "Root=1-abc";
  i.cognito_identity = R"({"cognitoIdentityId":"c"})";
  Response r = next_with(c, i);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"n":1})");
  EXPECT_NE(r.head.find("\r\nLambda-Runtime-Aws-Request-Id: id-1\r\n"), std::string::npos);
  // The deadline is the guest's own clock at begin() plus the budget.
  const size_t at = r.head.find("\r\nLambda-Runtime-Deadline-Ms: ");
  ASSERT_NE(at, std::string::npos);
  const uint64_t deadline = std::stoull(r.head.substr(at + 29));
  const uint64_t now = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  EXPECT_GT(deadline, now + 2000);
  EXPECT_LE(deadline, now + 3000);
  EXPECT_NE(r.head.find("\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:"
                        "function:f\r\n"),
            std::string::npos);
  EXPECT_NE(r.head.find("\r\nLambda-Runtime-Trace-Id: Root=1-abc\r\n"), std::string::npos);
  EXPECT_NE(r.head.find("\r\nLambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"c\"}\r\n"),
            std::string::npos);
  EXPECT_EQ(r.head.find("Client-Context"), std::string::npos);  // empty: left out
  EXPECT_NE(r.head.find("\r\nContent-Type: application/json\r\n"), std::string::npos);

  // Same connection: the response, then the next `next`.
  Response accepted = c.request(post("/2018-06-01/runtime/invocation/id-1/response", "\"done\""));
  EXPECT_EQ(accepted.status, 202);
  auto outcome = broker_.wait_outcome();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, InvokeResult::kSuccess);
  EXPECT_EQ(outcome->payload, "\"done\"");
}

TEST_F(RuntimeApiTest, NextCountsTheRestoresSoFar) {
  Client c(server_->port());
  Response first = next_with(c, sample("before"));
  EXPECT_NE(first.head.find("\r\nEmber-Restore-Count: 0\r\n"), std::string::npos);
  ASSERT_EQ(c.request(post("/2018-06-01/runtime/invocation/before/response", "1")).status, 202);
  ASSERT_TRUE(broker_.wait_outcome().ok());

  broker_.note_restore();
  broker_.note_restore();
  ASSERT_TRUE(broker_.begin(sample("after")).ok());
  Response second = c.request(std::string(kNext));
  EXPECT_NE(second.head.find("\r\nEmber-Restore-Count: 2\r\n"), std::string::npos);
}

TEST_F(RuntimeApiTest, NextBlocksUntilAnInvocationIsQueued) {
  Client c(server_->port());
  c.send(kNext);
  ASSERT_EQ(broker_.wait_init(std::chrono::steady_clock::now() + std::chrono::seconds(5)).kind,
            InitOutcome::kReady);
  auto reply = std::async(std::launch::async, [&] { return c.read(); });
  EXPECT_EQ(reply.wait_for(milliseconds(200)), std::future_status::timeout);
  ASSERT_TRUE(broker_.begin(sample("late")).ok());
  Response r = reply.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Lambda-Runtime-Aws-Request-Id: late"), std::string::npos);
}

TEST_F(RuntimeApiTest, ErrorPostsCarryTheirType) {
  Client c(server_->port());
  next_with(c, sample("e1"));
  Response r = c.request(post("/2018-06-01/runtime/invocation/e1/error",
                              R"({"errorType":"FromBody","errorMessage":"m"})",
                              "Lambda-Runtime-Function-Error-Type: FromHeader\r\n"));
  EXPECT_EQ(r.status, 202);
  auto outcome = broker_.wait_outcome();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, InvokeResult::kFunctionError);
  EXPECT_EQ(outcome->error_type, "FromHeader");

  Client d(server_->port());
  ASSERT_TRUE(broker_.begin(sample("e2")).ok());
  ASSERT_EQ(d.request(kNext).status, 200);
  ASSERT_EQ(d.request(post("/2018-06-01/runtime/invocation/e2/error",
                           R"({"errorType":"FromBody","errorMessage":"m"})"))
                .status,
            202);
  EXPECT_EQ(broker_.wait_outcome()->error_type, "FromBody");
}

TEST_F(RuntimeApiTest, InitErrorIsAcceptedOnceBeforeTheFirstNext) {
  Client c(server_->port());
  Response r = c.request(post("/2018-06-01/runtime/init/error",
                              R"({"errorType":"Runtime.ImportModuleError","errorMessage":"x"})"));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, R"({"status":"OK"})");
  auto init = broker_.wait_init(std::chrono::steady_clock::now());
  EXPECT_EQ(init.kind, InitOutcome::kInitError);
  EXPECT_EQ(init.error_type, "Runtime.ImportModuleError");
  EXPECT_EQ(c.request(post("/2018-06-01/runtime/init/error", "{}")).status, 403);
}

TEST_F(RuntimeApiTest, WrongIdsPathsAndMethodsAreRefusedButTheConnectionStays) {
  Client c(server_->port());
  Response wrong = c.request(post("/2018-06-01/runtime/invocation/nobody/response", "{}"));
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.body, R"({"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"})");
  Response missing = c.request("GET /2018-06-01/runtime/other HTTP/1.1\r\n\r\n");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("\"errorType\":\"NotFound\""), std::string::npos);
  Response slash = c.request(post("/2018-06-01/runtime/invocation/a/b/response", "{}"));
  EXPECT_EQ(slash.status, 404);
  Response method = c.request("POST /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n");
  EXPECT_EQ(method.status, 405);
  EXPECT_NE(method.head.find("\r\nAllow: GET\r\n"), std::string::npos);
  Response get_response =
      c.request("GET /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\n\r\n");
  EXPECT_EQ(get_response.status, 405);
  // Still the same connection, and init is not over because of any of this.
  EXPECT_EQ(broker_.wait_init(std::chrono::steady_clock::now()).kind, InitOutcome::kTimedOut);
}

TEST_F(RuntimeApiTest, MalformedRequestGets400AndTheConnectionCloses) {
  Client c(server_->port());
  Response r = c.request("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.head.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(c.closed_by_server());
  Client fresh(server_->port());  // the server goes on
  EXPECT_EQ(fresh.request("GET /x HTTP/1.1\r\n\r\n").status, 404);
}

TEST_F(RuntimeApiTest, OversizedResponseEndsTheInvocation) {
  Client c(server_->port());
  next_with(c, sample("big"));
  std::string body(kMaxInvokePayload + 1, 'x');
  Response r = c.request(post("/2018-06-01/runtime/invocation/big/response", body));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("RequestEntityTooLarge"), std::string::npos);
  auto outcome = broker_.wait_outcome();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, InvokeResult::kFunctionError);
  EXPECT_EQ(outcome->error_type, "Function.ResponseSizeTooLarge");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(RuntimeApiTest, ChunkedAndExpectContinueBodies) {
  Client c(server_->port());
  next_with(c, sample("ch"));
  c.send(
      "POST /2018-06-01/runtime/invocation/ch/response HTTP/1.1\r\n"
      "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
  Response go_on = c.read();
  EXPECT_EQ(go_on.status, 100);
  Response r = c.request("4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 202);
  auto outcome = broker_.wait_outcome();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->payload, "{\"a\":1}");
}

TEST_F(RuntimeApiTest, ConnectionCloseIsHonoured) {
  Client c(server_->port());
  Response r = c.request("GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(c.closed_by_server());
}

}  // namespace
}  // namespace ember::agent

// runtime_http: the guest agent's HTTP/1.x request parser (the Runtime API a function's
// runtime talks to), fed in pieces; responses built from what it parsed.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "guest-agent/http_request.h"

namespace ember::fuzz {
namespace {

using agent::HttpLimits;
using agent::HttpRequest;
using agent::HttpRequestParser;

// Small limits, so that inputs of a few KiB reach every one of them.
constexpr HttpLimits kLimits{.max_head_bytes = 2048, .max_headers = 20, .max_body_bytes = 8192};

struct Outcome {
  std::vector<HttpRequest> requests;
  int error_status = 0;  // 0: no error
  unsigned continues = 0;
};

bool same(const HttpRequest& a, const HttpRequest& b) {
  return a.method == b.method && a.target == b.target && a.minor_version == b.minor_version &&
         a.headers == b.headers && a.body == b.body;
}

Outcome parse(std::string_view stream, size_t piece) {
  HttpRequestParser parser(kLimits);
  Outcome out;
  for (size_t at = 0; at < stream.size(); at += piece) {
    parser.feed(stream.substr(at, piece));
    if (parser.take_continue_request()) ++out.continues;
    while (auto request = parser.next()) out.requests.push_back(std::move(*request));
    if (parser.error()) break;
  }
  if (parser.error()) {
    out.error_status = parser.error()->status;
    EMBER_FUZZ_ASSERT(!parser.next().has_value());  // a failed stream stays failed
  }
  return out;
}

void check_request(const HttpRequest& r) {
  EMBER_FUZZ_ASSERT(!r.method.empty());
  EMBER_FUZZ_ASSERT(r.headers.size() <= kLimits.max_headers);
  EMBER_FUZZ_ASSERT(r.body.size() <= kLimits.max_body_bytes);
  EMBER_FUZZ_ASSERT(r.path().size() <= r.target.size());
  (void)r.keep_alive();
  for (const auto& [name, value] : r.headers) {
    EMBER_FUZZ_ASSERT(r.header(name).has_value());
  }
  // Echoing parsed values into a response never adds a line to its head.
  std::vector<std::pair<std::string, std::string>> echo;
  for (const auto& [name, value] : r.headers) echo.emplace_back("X-Echo", value);
  echo.emplace_back("X-Target", r.target);
  const std::string response = agent::format_http_response(200, echo, r.body, false);
  const std::string_view head(response.data(), response.find("\r\n\r\n"));
  EMBER_FUZZ_ASSERT(static_cast<size_t>(std::count(head.begin(), head.end(), '\n')) ==
                    echo.size() + 2);
}

void write_seeds(const std::string& dir) {
  // The input's first byte sets the piece size (0: all at once); the rest is the stream.
  auto seed = [&](const std::string& name, char piece, const std::string& stream) {
    write_seed(dir, name, std::string(1, piece) + stream);
  };
  seed("next", 0,
       "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"
       "User-Agent: python-requests/2.31\r\nAccept: */*\r\n\r\n");
  seed("response", 7,
       "POST /2018-06-01/runtime/invocation/8f5e/response HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"
       "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"statusCode\":200}");
  seed("error_chunked", 3,
       "POST /2018-06-01/runtime/invocation/8f5e/error HTTP/1.1\r\n"
       "Lambda-Runtime-Function-Error-Type: Unhandled\r\nTransfer-Encoding: chunked\r\n\r\n"
       "a\r\n{\"errorMes\r\n10;ext=1\r\nsage\":\"boom\"}    \r\n0\r\nX-Trailer: t\r\n\r\n");
  seed("init_error_pipelined", 0,
       "POST /2018-06-01/runtime/init/error HTTP/1.0\nContent-Length: 2\nConnection: keep-alive\n"
       "\n{}GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nConnection: close\r\n\r\n");
  seed("expect_continue", 1,
       "POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nExpect: 100-continue\r\n"
       "Content-Length: 5\r\n\r\nhello");
  seed("too_large", 0,
       "POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nContent-Length: 9000\r\n\r\n");
}

}  // namespace
}  // namespace ember::fuzz

EMBER_FUZZ_SEEDS(ember::fuzz::write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember::fuzz;
  if (size < 1) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t piece = data[0] == 0 ? stream.size() + 1 : data[0];
  const Outcome split = parse(stream, piece);
  for (const auto& r : split.requests) check_request(r);
  // How the bytes arrive never changes the requests or the refusal.
  const Outcome whole = parse(stream, stream.size() + 1);
  EMBER_FUZZ_ASSERT(whole.error_status == split.error_status);
  EMBER_FUZZ_ASSERT(whole.requests.size() == split.requests.size());
  for (size_t i = 0; i < whole.requests.size(); ++i) {
    EMBER_FUZZ_ASSERT(same(whole.requests[i], split.requests[i]));
  }
  return 0;
}

// Router: maps a method and a path pattern such as "/2015-03-31/functions/{name}" to a handler.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "host/api/http_message.h"

namespace ember::host {

using RouteParams = std::map<std::string, std::string>;  // {name} -> decoded segment
using RouteHandler = std::function<HttpResponse(const HttpRequest&, const RouteParams&)>;

class Router {
 public:
  // Patterns are absolute paths whose segments are literal or "{param}" (one whole
  // segment); the last may be "{param+}", which matches the rest of the path, zero or more
  // segments, as sent (still percent-encoded, '/' kept). A trailing '/' in a pattern or a
  // request path is ignored.
  void add(std::string method, std::string_view pattern, RouteHandler handler);

  struct Match {
    const RouteHandler* handler = nullptr;  // null: no route
    RouteParams params;
    bool path_known = false;  // some route has this path, under another method
  };
  // Params are percent-decoded; a segment that decodes to something with a '/' still
  // matches one {param}.
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    RouteHandler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace ember::host

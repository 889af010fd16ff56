// Router: segment-by-segment matching in the order routes were added.
#include "host/api/router.h"

namespace ember::host {
namespace {

// "/a/b/" -> {"a", "b"}; false for a path without a leading '/' or with an empty segment.
bool split_segments(std::string_view path, std::vector<std::string_view>& segments) {
  segments.clear();
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    if (segment.empty()) return false;
    segments.push_back(segment);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  return true;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool is_greedy(const std::string& segment) {
  return is_param(segment) && segment[segment.size() - 2] == '+';
}

// The segments from `first` on, joined by '/'.
std::string rest_of(const std::vector<std::string_view>& segments, size_t first) {
  std::string rest;
  for (size_t i = first; i < segments.size(); ++i) {
    if (i > first) rest += '/';
    rest += segments[i];
  }
  return rest;
}

}  // namespace

void Router::add(std::string method, std::string_view pattern, RouteHandler handler) {
  std::vector<std::string_view> parts;
  split_segments(pattern, parts);
  routes_.push_back(Route{std::move(method), {parts.begin(), parts.end()}, std::move(handler)});
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match result;
  std::vector<std::string_view> segments;
  if (!split_segments(path, segments)) return result;
  for (const Route& route : routes_) {
    const bool greedy = !route.segments.empty() && is_greedy(route.segments.back());
    const size_t fixed = greedy ? route.segments.size() - 1 : route.segments.size();
    if (greedy ? segments.size() < fixed : segments.size() != fixed) continue;
    RouteParams params;
    if (greedy) {
      const std::string& last = route.segments.back();
      params[last.substr(1, last.size() - 3)] = rest_of(segments, fixed);
    }
    bool matched = true;
    for (size_t i = 0; i < fixed && matched; ++i) {
      const std::string& want = route.segments[i];
      if (is_param(want)) {
        params[want.substr(1, want.size() - 2)] = percent_decode(segments[i]);
      } else {
        matched = want == segments[i];
      }
    }
    if (!matched) continue;
    result.path_known = true;
    if (route.method == method) {
      result.handler = &route.handler;
      result.params = std::move(params);
      return result;
    }
  }
  return result;
}

}  // namespace ember::host

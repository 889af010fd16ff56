// emberd --redis [NAME=]URL: parsing redis:// and unix:// URLs into RedisServer.
#include <hiredis.h>  // HIREDIS_MAJOR, HIREDIS_MINOR

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>

#include "host/events/redis_client.h"

namespace ember::host {
namespace {

constexpr char kForms[] =
    "expected [NAME=]redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or "
    "[NAME=]unix:///PATH[?db=N&password=P], e.g. --redis events=redis://:PASSWORD@10.0.0.5:6379/0";

// The flag as it may be shown: user info and password= values become "***".
std::string redacted(std::string_view flag) {
  std::string out(flag);
  if (size_t scheme = out.find("://"); scheme != std::string::npos) {
    const size_t query = out.find('?', scheme);
    const size_t at = out.rfind('@', query == std::string::npos ? std::string::npos : query);
    if (at != std::string::npos && at > scheme) out.replace(scheme + 3, at - scheme - 3, "***");
  }
  for (size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    const size_t start = pos + 9;
    const size_t end = std::min(out.find('&', start), out.size());
    out.replace(start, end - start, "***");
  }
  return out;
}

Error flag_error(std::string_view flag, const std::string& problem) {
  return make_error("--redis \"" + redacted(flag) + "\"", problem + "; " + kForms);
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
  });
}

std::optional<int> parse_int(std::string_view text, int min, int max) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

// %XX escapes, as URLs carry passwords with ':', '@' or '/' in them.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int byte = 0;
    if (i + 2 >= text.size()) return std::nullopt;
    const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, byte, 16);
    if (ec != std::errc() || end != text.data() + i + 3) return std::nullopt;
    out += static_cast<char>(byte);
    i += 2;
  }
  return out;
}

// ?db=N&password=P&username=U, in either form.
Status parse_query(std::string_view flag, std::string_view query, RedisServer& server) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!value)
      return flag_error(flag, "a bad %-escape in the query parameter " + std::string(key));
    if (key == "db") {
      const auto db = parse_int(*value, 0, 1 << 30);
      if (!db) return flag_error(flag, "db must be a database number such as 0");
      server.db = *db;
    } else if (key == "password") {
      server.password = *value;
    } else if (key == "username") {
      server.username = *value;
    } else {
      return flag_error(flag, "unknown query parameter \"" + std::string(key) +
                                  "\" (known: db, password, username)");
    }
  }
  return {};
}

// HOST[:PORT] with HOST a name, an IPv4 address or a bracketed IPv6 address.
Status parse_host_port(std::string_view flag, std::string_view text, RedisServer& server) {
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return flag_error(flag, "an IPv6 address without ']'");
    server.host = std::string(text.substr(1, close - 1));
    const std::string_view after = text.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return flag_error(flag, "unexpected text after the IPv6 address");
    }
    if (!after.empty()) port = after.substr(1);
    if (!after.empty() && port.empty()) return flag_error(flag, "an empty port after ':'");
  } else {
    const size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return flag_error(flag, "put an IPv6 address in brackets, as redis://[::1]:6379");
    }
    server.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      if (port.empty()) return flag_error(flag, "an empty port after ':'");
    }
  }
  if (server.host.empty()) return flag_error(flag, "no host");
  if (!port.empty()) {
    const auto number = parse_int(port, 1, 65535);
    if (!number) {
      return flag_error(flag, "port \"" + std::string(port) + "\" is not a number 1-65535");
    }
    server.port = *number;
  }
  return {};
}

Status parse_redis_url(std::string_view flag, std::string_view rest, RedisServer& server) {
  const size_t question = rest.find('?');
  std::string_view authority_path = rest.substr(0, question);
  // The last '@' ends the user info, so a raw '@' or '/' in a password still parses.
  if (const size_t at = authority_path.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority_path.substr(0, at);
    authority_path = authority_path.substr(at + 1);
    const size_t colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    auto password = percent_decode(colon == std::string_view::npos ? std::string_view()
                                                                   : userinfo.substr(colon + 1));
    if (!user || !password) return flag_error(flag, "a bad %-escape in the user or password");
    if (colon == std::string_view::npos) {
      // redis://SECRET@host: a lone user info is the password, as redis-cli -u reads it.
      server.password = *user;
    } else {
      server.username = *user;
      server.password = *password;
    }
  }
  const size_t slash = authority_path.find('/');
  EMBER_CHECK(parse_host_port(flag, authority_path.substr(0, slash), server));
  if (slash != std::string_view::npos) {
    const std::string_view db = authority_path.substr(slash + 1);
    if (!db.empty()) {
      const auto number = parse_int(db, 0, 1 << 30);
      if (!number) {
        return flag_error(
            flag, "the path \"/" + std::string(db) + "\" must be a database number such as /0");
      }
      server.db = *number;
    }
  }
  if (question != std::string_view::npos) {
    EMBER_CHECK(parse_query(flag, rest.substr(question + 1), server));
  }
  return {};
}

}  // namespace

std::string RedisServer::describe() const {
  if (!unix_path.empty()) {
    return "unix://" + unix_path + (db != 0 ? "?db=" + std::to_string(db) : "");
  }
  const bool ipv6 = host.find(':') != std::string::npos;
  return std::string(tls ? "rediss://" : "redis://") + (ipv6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port) + "/" + std::to_string(db);
}

Result<RedisServer> parse_redis_flag(std::string_view flag) {
  RedisServer server;
  server.name = "default";
  std::string_view url = flag;
  const size_t scheme_end = flag.find("://");
  if (const size_t eq = flag.find('=');
      eq != std::string_view::npos && (scheme_end == std::string_view::npos || eq < scheme_end)) {
    server.name = std::string(flag.substr(0, eq));
    url = flag.substr(eq + 1);
    if (!valid_name(server.name)) {
      return flag_error(
          flag, "the name \"" + server.name + "\" must be 1-64 letters, digits, '_' or '-'");
    }
  }
  const size_t colon_slashes = url.find("://");
  if (url.empty()) return flag_error(flag, "no URL");
  if (colon_slashes == std::string_view::npos) return flag_error(flag, "no redis:// or unix://");
  std::string scheme(url.substr(0, colon_slashes));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const std::string_view rest = url.substr(colon_slashes + 3);
  if (scheme == "rediss") {
    return make_error("--redis \"" + redacted(flag) + "\"",
                      "rediss:// (TLS) is not supported: this emberd is built with hiredis " +
                          std::to_string(HIREDIS_MAJOR) + "." + std::to_string(HIREDIS_MINOR) +
                          " which has no TLS; use redis:// on a trusted network, a Unix "
                          "socket (unix:///PATH), or a local TLS tunnel such as stunnel");
  }
  if (scheme == "unix") {
    const size_t question = rest.find('?');
    server.unix_path = std::string(rest.substr(0, question));
    if (server.unix_path.empty() || server.unix_path.front() != '/') {
      return flag_error(flag, "a Unix socket needs an absolute path: unix:///run/redis.sock");
    }
    if (question != std::string_view::npos) {
      EMBER_CHECK(parse_query(flag, rest.substr(question + 1), server));
    }
    return server;
  }
  if (scheme != "redis") return flag_error(flag, "unknown scheme \"" + scheme + "://\"");
  EMBER_CHECK(parse_redis_url(flag, rest, server));
  return server;
}

Result<std::vector<RedisServer>> parse_redis_flags(const std::vector<std::string>& flags) {
  std::vector<RedisServer> servers;
  std::set<std::string> names;
  for (const std::string& flag : flags) {
    EMBER_TRY(RedisServer server, parse_redis_flag(flag));
    if (!names.insert(server.name).second) {
      return make_error("--redis", "the name \"" + server.name +
                                       "\" is given twice (a flag without NAME= is \"default\"); "
                                       "name each server, e.g. --redis a=redis://host1 "
                                       "--redis b=redis://host2");
    }
    servers.push_back(std::move(server));
  }
  return servers;
}

}  // namespace ember::host

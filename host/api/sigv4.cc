// SigV4: canonicalization, the HMAC-SHA256 chain (OpenSSL) and the Authorization header.
#include "host/api/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

#include "host/store/encoding.h"
#include "host/store/sha256.h"

namespace ember::host {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Leading and trailing whitespace dropped, inner runs of whitespace made one space.
std::string trim_and_collapse(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

// The lower-cased, sorted headers with their values joined and trimmed.
std::map<std::string, std::string> canonical_headers(const SigV4Message& message) {
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : message.headers) {
    std::string& joined = headers[lower(name)];
    joined += (joined.empty() ? "" : ",") + trim_and_collapse(value);
  }
  return headers;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// %XX escapes decoded ('+' stays '+'); a malformed escape is kept as it is.
std::string percent_decode(std::string_view text) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 &&
        hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view bytes) { return hex_encode(sha256(bytes)); }

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string sigv4_uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string SigV4Scope::to_string() const {
  return date + "/" + region + "/" + service + "/aws4_request";
}

std::string sigv4_canonical_uri(std::string_view path) {
  if (path.empty()) return "/";
  // RFC 3986's dot-segment removal; empty segments ("//") go too, as AWS's services do.
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view segment = path.substr(start, slash - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = slash + 1;
  }
  std::string normalized = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    normalized += (i == 0 ? "" : "/") + std::string(segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) normalized += '/';
  return sigv4_uri_encode(normalized, /*keep_slash=*/true);
}

std::string sigv4_canonical_query(std::string_view raw_query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start < raw_query.size()) {
    size_t amp = raw_query.find('&', start);
    if (amp == std::string_view::npos) amp = raw_query.size();
    const std::string_view pair = raw_query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    const size_t equals = pair.find('=');
    const std::string_view name = pair.substr(0, equals);
    const std::string_view value =
        equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
    pairs.emplace_back(sigv4_uri_encode(percent_decode(name), false),
                       sigv4_uri_encode(percent_decode(value), false));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [name, value] : pairs) out += (out.empty() ? "" : "&") + name + "=" + value;
  return out;
}

std::string sigv4_signed_headers(const SigV4Message& message) {
  std::string out;
  for (const auto& [name, value] : canonical_headers(message)) {
    out += (out.empty() ? "" : ";") + name;
  }
  return out;
}

std::string sigv4_canonical_request(const SigV4Message& message) {
  std::string out = message.method + "\n" + sigv4_canonical_uri(message.path) + "\n" +
                    sigv4_canonical_query(message.raw_query) + "\n";
  for (const auto& [name, value] : canonical_headers(message)) out += name + ":" + value + "\n";
  out += "\n" + sigv4_signed_headers(message) + "\n" + message.payload_sha256_hex;
  return out;
}

std::string sigv4_string_to_sign(std::string_view amz_date, const SigV4Scope& scope,
                                 std::string_view canonical_request) {
  return std::string(kSigV4Algorithm) + "\n" + std::string(amz_date) + "\n" + scope.to_string() +
         "\n" + sha256_hex(canonical_request);
}

std::string sigv4_signing_key(std::string_view secret_access_key, const SigV4Scope& scope) {
  const std::string date_key = hmac_sha256("AWS4" + std::string(secret_access_key), scope.date);
  const std::string region_key = hmac_sha256(date_key, scope.region);
  const std::string service_key = hmac_sha256(region_key, scope.service);
  return hmac_sha256(service_key, "aws4_request");
}

std::string sigv4_signature(const SigV4Message& message, std::string_view secret_access_key,
                            std::string_view amz_date, const SigV4Scope& scope) {
  const std::string to_sign =
      sigv4_string_to_sign(amz_date, scope, sigv4_canonical_request(message));
  return hex_encode(hmac_sha256(sigv4_signing_key(secret_access_key, scope), to_sign));
}

std::string sigv4_authorization(const SigV4Message& message, std::string_view access_key_id,
                                std::string_view secret_access_key, std::string_view amz_date,
                                const SigV4Scope& scope) {
  return std::string(kSigV4Algorithm) + " Credential=" + std::string(access_key_id) + "/" +
         scope.to_string() + ", SignedHeaders=" + sigv4_signed_headers(message) +
         ", Signature=" + sigv4_signature(message, secret_access_key, amz_date, scope);
}

Result<SigV4Authorization> parse_sigv4_authorization(std::string_view header) {
  const auto fail = [](std::string why) { return make_error("parse Authorization", why); };
  header = trim(header);
  const size_t space = header.find(' ');
  const std::string_view algorithm = header.substr(0, space);
  if (algorithm != kSigV4Algorithm) {
    return fail("Unsupported AWS 'algorithm': '" + std::string(algorithm) +
                "'; only AWS4-HMAC-SHA256 (Signature Version 4) is accepted");
  }
  std::map<std::string, std::string> fields;
  std::string_view rest = space == std::string_view::npos ? "" : header.substr(space + 1);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    if (comma == std::string_view::npos) comma = rest.size();
    const std::string_view part = trim(rest.substr(0, comma));
    rest = comma < rest.size() ? rest.substr(comma + 1) : std::string_view();
    if (part.empty()) continue;
    const size_t equals = part.find('=');
    if (equals == std::string_view::npos) {
      return fail("Authorization header parameter '" + std::string(part) +
                  "' is not of the form name=value");
    }
    fields[std::string(trim(part.substr(0, equals)))] = std::string(trim(part.substr(equals + 1)));
  }
  std::string missing;
  for (const char* name : {"Credential", "Signature", "SignedHeaders"}) {
    if (fields[name].empty()) {
      missing += std::string(missing.empty() ? "" : " ") + "Authorization header requires '" +
                 name + "' parameter.";
    }
  }
  if (!missing.empty()) return fail(missing);

  SigV4Authorization parsed;
  std::vector<std::string> credential;
  const std::string& text = fields["Credential"];
  for (size_t start = 0;;) {
    const size_t slash = text.find('/', start);
    credential.push_back(text.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (credential.size() != 5 || credential[0].empty() || credential[1].size() != 8) {
    return fail("Credential should be of the form ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/"
                "aws4_request, got '" + text + "'");
  }
  parsed.access_key_id = credential[0];
  parsed.scope = {credential[1], credential[2], credential[3]};
  parsed.terminator = credential[4];
  const std::string& names = fields["SignedHeaders"];
  for (size_t start = 0;;) {
    const size_t semicolon = names.find(';', start);
    parsed.signed_headers.push_back(
        lower(names.substr(start, semicolon == std::string::npos ? semicolon : semicolon - start)));
    if (semicolon == std::string::npos) break;
    start = semicolon + 1;
  }
  parsed.signature = fields["Signature"];
  return parsed;
}

std::string sigv4_amz_date(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

std::optional<int64_t> parse_sigv4_amz_date(std::string_view text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return std::nullopt;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  const auto number = [&](size_t at, size_t length) {
    int value = 0;
    for (size_t i = at; i < at + length; ++i) value = value * 10 + (text[i] - '0');
    return value;
  };
  std::tm utc{};
  utc.tm_year = number(0, 4) - 1900;
  utc.tm_mon = number(4, 2) - 1;
  utc.tm_mday = number(6, 2);
  utc.tm_hour = number(9, 2);
  utc.tm_min = number(11, 2);
  utc.tm_sec = number(13, 2);
  if (utc.tm_mon > 11 || utc.tm_mday < 1 || utc.tm_mday > 31 || utc.tm_hour > 23 ||
      utc.tm_min > 59 || utc.tm_sec > 60) {
    return std::nullopt;
  }
  return static_cast<int64_t>(::timegm(&utc));
}

}  // namespace ember::host

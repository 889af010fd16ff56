// SigV4: AWS Signature Version 4 (AWS4-HMAC-SHA256) as pure functions: the canonical
// request, the string to sign, the signing key, the signature and the Authorization header.
// Shared by emberd (verifying) and the ember CLI (signing).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace ember::host {

inline constexpr char kSigV4Algorithm[] = "AWS4-HMAC-SHA256";
// How far a request's X-Amz-Date may be from the receiver's clock, either way.
inline constexpr int64_t kSigV4MaxSkewSeconds = 5 * 60;

// Lower-case hex of the SHA-256 of bytes, and the raw 32-byte HMAC-SHA256 of data under key.
std::string sha256_hex(std::string_view bytes);
std::string hmac_sha256(std::string_view key, std::string_view data);

// AWS's URI encoding: A-Z a-z 0-9 - . _ ~ are kept, every other byte is %XX (upper-case hex);
// '/' is kept when keep_slash.
std::string sigv4_uri_encode(std::string_view text, bool keep_slash);

// The credential scope: "<date>/<region>/<service>/aws4_request".
struct SigV4Scope {
  std::string date;  // YYYYMMDD
  std::string region;
  std::string service;

  std::string to_string() const;
};

// A request as it is signed: what travels on the wire.
struct SigV4Message {
  std::string method;
  std::string path;       // as sent (already percent-encoded), without the query
  std::string raw_query;  // as sent, without the '?'
  // The signed headers, names in any case; a name given twice has its values joined by ','.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256_hex;  // sha256_hex() of the body
};

// The path with dot segments and empty segments removed and then URI-encoded again, '/'
// kept (AWS's rule for every service but S3): "/a%3Ab" becomes "/a%253Ab".
std::string sigv4_canonical_uri(std::string_view path);
// The query's parameters decoded, encoded the AWS way, sorted by name then value, "a=1&b=2".
std::string sigv4_canonical_query(std::string_view raw_query);
// "host;x-amz-date": the headers' lower-case names, sorted, without duplicates.
std::string sigv4_signed_headers(const SigV4Message& message);
// METHOD \n URI \n QUERY \n name:value\n... \n SIGNED-HEADERS \n PAYLOAD-HASH
std::string sigv4_canonical_request(const SigV4Message& message);
// AWS4-HMAC-SHA256 \n AMZ-DATE \n SCOPE \n hex(SHA-256(canonical request))
std::string sigv4_string_to_sign(std::string_view amz_date, const SigV4Scope& scope,
                                 std::string_view canonical_request);
// HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request" (raw bytes).
std::string sigv4_signing_key(std::string_view secret_access_key, const SigV4Scope& scope);
// Lower-case hex of the signature of message at amz_date.
std::string sigv4_signature(const SigV4Message& message, std::string_view secret_access_key,
                            std::string_view amz_date, const SigV4Scope& scope);
// "AWS4-HMAC-SHA256 Credential=KEY/SCOPE, SignedHeaders=..., Signature=...": signs every
// header of message (which must include host and x-amz-date).
std::string sigv4_authorization(const SigV4Message& message, std::string_view access_key_id,
                                std::string_view secret_access_key, std::string_view amz_date,
                                const SigV4Scope& scope);

// An Authorization header taken apart.
struct SigV4Authorization {
  std::string access_key_id;
  SigV4Scope scope;
  std::string terminator;                   // the scope's last part, "aws4_request" when valid
  std::vector<std::string> signed_headers;  // lower-case, as listed
  std::string signature;                    // hex, as sent
};

// Parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...". The error's
// context says, in AWS's words, what is missing or malformed.
Result<SigV4Authorization> parse_sigv4_authorization(std::string_view header);

// 20150830T123600Z for a Unix time, and back (nullopt when not in that exact form).
std::string sigv4_amz_date(int64_t unix_seconds);
std::optional<int64_t> parse_sigv4_amz_date(std::string_view text);

}  // namespace ember::host

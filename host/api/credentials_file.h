// Access keys in the AWS CLI's credentials format ([profile] sections with aws_access_key_id
// and aws_secret_access_key), read by emberd --credentials and by the ember CLI.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ember::host {

struct AccessKey {
  std::string profile;  // the [section] it came from
  std::string access_key_id;
  std::string secret_access_key;
};

// Parses the file's text: `[name]` lines open a profile, `key = value` lines set its
// fields, blank lines and lines starting with '#' or ';' are ignored, other keys (region,
// aws_session_token, ...) are left out. Errors (with the line number, never a secret): a
// key = value line before any section, a line that is neither, a profile with only one of
// the two keys. `what` names the source in messages (the path).
Result<std::vector<AccessKey>> parse_credentials(std::string_view text, const std::string& what);

// Reads and parses the file at path; an error (with errno) when it cannot be read.
Result<std::vector<AccessKey>> read_credentials_file(const std::string& path);

// Access key id -> secret, for emberd: every profile's key. An error when the file has no
// key at all, or one access key id with two different secrets.
Result<std::map<std::string, std::string>> load_access_keys(const std::string& path);

}  // namespace ember::host

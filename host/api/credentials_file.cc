// The AWS CLI's credentials format: a small INI parser and the access key table.
#include "host/api/credentials_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>

#include "common/unique_fd.h"

namespace ember::host {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

Status check_complete(const AccessKey& key, const std::string& what) {
  if (key.access_key_id.empty() == key.secret_access_key.empty()) return {};
  const char* missing = key.access_key_id.empty()
                            ? "aws_secret_access_key but no aws_access_key_id"
                            : "aws_access_key_id but no aws_secret_access_key";
  return make_error("read credentials " + what,
                    "profile [" + key.profile + "] has " + missing);
}

}  // namespace

Result<std::vector<AccessKey>> parse_credentials(std::string_view text, const std::string& what) {
  std::vector<AccessKey> keys;
  bool in_profile = false;
  AccessKey current;
  size_t line_number = 0;
  const auto finish_profile = [&]() -> Status {
    if (!in_profile) return {};
    EMBER_CHECK(check_complete(current, what));
    if (!current.access_key_id.empty()) keys.push_back(current);
    return {};
  };
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    const std::string_view line = trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    const std::string where = what + ":" + std::to_string(line_number);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']' || trim(line.substr(1, line.size() - 2)).empty()) {
        return make_error("read credentials " + where,
                          "a section line must look like [profile-name]");
      }
      EMBER_CHECK(finish_profile());
      current = AccessKey{std::string(trim(line.substr(1, line.size() - 2))), "", ""};
      in_profile = true;
      continue;
    }
    const size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      return make_error("read credentials " + where,
                        "expected [profile] or key = value (e.g. aws_access_key_id = AKIA...)");
    }
    if (!in_profile) {
      return make_error("read credentials " + where,
                        "a key = value line before any [profile] section; start the file "
                        "with e.g. [default]");
    }
    const std::string_view key = trim(line.substr(0, equals));
    const std::string_view value = trim(line.substr(equals + 1));
    if (key == "aws_access_key_id" || key == "aws_secret_access_key") {
      if (value.empty()) {
        return make_error("read credentials " + where, std::string(key) + " has no value");
      }
      (key == "aws_access_key_id" ? current.access_key_id : current.secret_access_key) = value;
    }
  }
  EMBER_CHECK(finish_profile());
  return keys;
}

Result<std::vector<AccessKey>> read_credentials_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("read credentials", path);
  std::string text;
  char buffer[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read credentials", path);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return parse_credentials(text, path);
}

Result<std::map<std::string, std::string>> load_access_keys(const std::string& path) {
  EMBER_TRY(const std::vector<AccessKey> keys, read_credentials_file(path));
  std::map<std::string, std::string> table;
  for (const AccessKey& key : keys) {
    auto [at, added] = table.emplace(key.access_key_id, key.secret_access_key);
    if (!added && at->second != key.secret_access_key) {
      return make_error("read credentials " + path,
                        "access key " + key.access_key_id +
                            " is listed twice with different secrets (profile [" +
                            key.profile + "])");
    }
  }
  if (table.empty()) {
    return make_error("read credentials " + path,
                      "no access keys in it: add a [profile] section with aws_access_key_id "
                      "and aws_secret_access_key");
  }
  return table;
}

}  // namespace ember::host

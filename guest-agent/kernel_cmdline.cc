// Parsing of the kernel command line into the settings the agent boots with.
#include "guest-agent/kernel_cmdline.h"

#include <charconv>

namespace ember::agent {

std::map<std::string, std::string> parse_cmdline(std::string_view cmdline) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\0'; };
  while (i < cmdline.size()) {
    while (i < cmdline.size() && is_space(cmdline[i])) ++i;
    if (i == cmdline.size()) break;
    std::string word;
    bool quoted = false;
    for (; i < cmdline.size() && (quoted || !is_space(cmdline[i])); ++i) {
      if (cmdline[i] == '"') {
        quoted = !quoted;
      } else {
        word += cmdline[i];
      }
    }
    size_t eq = word.find('=');
    if (eq == std::string::npos) {
      out[word] = "";
    } else {
      out[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return out;
}

BootConfig boot_config_from_cmdline(std::string_view cmdline) {
  BootConfig config;
  auto args = parse_cmdline(cmdline);
  auto get = [&](const char* key) -> const std::string* {
    auto it = args.find(key);
    return it == args.end() ? nullptr : &it->second;
  };
  if (auto* v = get("root"); v && !v->empty()) config.root_device = *v;
  if (auto* v = get("rootfstype"); v && !v->empty()) config.root_fstype = *v;
  if (auto* v = get("ember.hostname"); v && !v->empty()) config.hostname = *v;
  if (auto* v = get("ember.tmp_mib")) {
    uint32_t mib = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), mib);
    if (ec == std::errc() && end == v->data() + v->size() && mib > 0) config.tmp_mib = mib;
  }
  config.boot_test = get("ember.boot_test") != nullptr;
  return config;
}

}  // namespace ember::agent

// Parsing of the kernel command line into the settings the agent boots with.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace ember::agent {

// What the agent takes from /proc/cmdline; defaults match what ember-vmm passes.
struct BootConfig {
  std::string root_device = "/dev/vda";  // root=
  std::string root_fstype = "erofs";     // rootfstype=
  uint32_t tmp_mib = 512;                // ember.tmp_mib=, size of the /tmp tmpfs
  std::string hostname = "ember";        // ember.hostname=
  bool boot_test = false;                // ember.boot_test: print a marker with python, reboot
};

// Splits a command line into key -> value ("flag" alone maps to ""). Double quotes group
// words as the kernel does ("a=\"x y\""); a later key overrides an earlier one.
std::map<std::string, std::string> parse_cmdline(std::string_view cmdline);

// Defaults for everything absent; an unparsable ember.tmp_mib keeps the default.
BootConfig boot_config_from_cmdline(std::string_view cmdline);

}  // namespace ember::agent

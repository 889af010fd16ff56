// seccomp::Mode: what ember-vmm's --seccomp flag asks of the thread filters.
#pragma once

#include <optional>
#include <string_view>

namespace ember::vmm::seccomp {

enum class Mode {
  kKill,  // a call outside a thread's list kills the whole process with SIGSYS
  kLog,   // such a call goes through and the kernel logs it (audit type 1326)
  kOff,   // no filter is installed
};

// "kill", "log" or "off"; nullopt for anything else.
inline std::optional<Mode> parse_mode(std::string_view name) {
  if (name == "kill") return Mode::kKill;
  if (name == "log") return Mode::kLog;
  if (name == "off") return Mode::kOff;
  return std::nullopt;
}

inline const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kKill: return "kill";
    case Mode::kLog: return "log";
    case Mode::kOff: return "off";
  }
  return "?";
}

}  // namespace ember::vmm::seccomp

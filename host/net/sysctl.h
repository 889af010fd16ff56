// write_sysctl: sets a /proc/sys value (net/... ones are those of the calling thread's netns).
#pragma once

#include <string>

#include "common/result.h"

namespace ember::host::net {

// write_sysctl("net/ipv4/ip_forward", "1") writes /proc/sys/net/ipv4/ip_forward.
Status write_sysctl(const std::string& name, const std::string& value);

}  // namespace ember::host::net

// default_resolver: the DNS server VMs use unless emberd is given --dns ADDR.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace ember::host::net {

// The first IPv4 `nameserver` in resolv_conf that is not loopback (127/8, which a VM cannot
// reach, e.g. systemd-resolved's 127.0.0.53) nor 0.0.0.0. An error tells the user to pass
// --dns ADDR.
Result<uint32_t> default_resolver(const std::string& resolv_conf = "/etc/resolv.conf");

}  // namespace ember::host::net

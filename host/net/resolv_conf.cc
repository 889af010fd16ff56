// default_resolver: reads nameserver lines from resolv.conf.
#include "host/net/resolv_conf.h"

#include <fstream>
#include <sstream>

#include "host/net/ipv4.h"

namespace ember::host::net {

Result<uint32_t> default_resolver(const std::string& resolv_conf) {
  std::ifstream in(resolv_conf);
  if (!in) {
    return errno_error("find a DNS resolver for VMs",
                       "cannot read " + resolv_conf + "; pass --dns ADDR");
  }
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword, value;
    if (!(words >> keyword >> value) || keyword != "nameserver") continue;
    auto address = parse_ipv4(value);
    if (!address || *address == 0 || (*address >> 24) == 127) continue;
    return *address;
  }
  return make_error("find a DNS resolver for VMs",
                    resolv_conf +
                        " names no IPv4 nameserver outside 127.0.0.0/8 (a local "
                        "resolver such as 127.0.0.53 is unreachable from a VM); "
                        "pass --dns ADDR");
}

}  // namespace ember::host::net

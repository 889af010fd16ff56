// FakeGuest (tests): writes and reads Ethernet frames on a VM's tap as the guest's eth0
// would (172.16.0.2, 06:00:ac:10:00:02), answering ARP for its address.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ember::host::net {

struct Ipv4Packet {
  uint32_t src = 0, dst = 0;  // host byte order
  uint8_t protocol = 0;       // 1 ICMP, 6 TCP, 17 UDP
  std::string l4;             // everything after the IP header

  uint16_t l4_u16(size_t offset) const;  // a big-endian field of the transport header
};

class FakeGuest {
 public:
  // tap_fd: a tap opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (10-byte header).
  explicit FakeGuest(int tap_fd) : fd_(tap_fd) {}

  bool send_udp(uint32_t dst, uint16_t src_port, uint16_t dst_port, std::string_view data);
  // flags: TCP flag bits (0x02 SYN, 0x10 ACK, ...).
  bool send_tcp(uint32_t dst, uint16_t src_port, uint16_t dst_port, uint8_t flags, uint32_t seq,
                uint32_t ack);

  // Reads frames until one holds an IPv4 packet to the guest that `match` accepts, or until
  // timeout; ARP requests for the guest's address are answered meanwhile.
  std::optional<Ipv4Packet> receive(std::chrono::milliseconds timeout,
                                    const std::function<bool(const Ipv4Packet&)>& match);

 private:
  bool send_ipv4(uint32_t dst, uint8_t protocol, const std::string& l4);
  bool send_frame(const std::string& dst_mac, uint16_t ethertype, const std::string& payload);
  int fd_;
};

}  // namespace ember::host::net

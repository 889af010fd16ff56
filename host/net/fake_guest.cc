// FakeGuest: hand-built Ethernet, ARP, IPv4, UDP and TCP with their checksums.
#include "host/net/fake_guest.h"

#include <poll.h>
#include <unistd.h>

#include "host/net/addressing.h"

namespace ember::host::net {
namespace {

constexpr size_t kVnetHeaderSize = 10;  // struct virtio_net_hdr
constexpr uint16_t kArp = 0x0806, kIpv4 = 0x0800;

void put16(std::string& s, uint16_t v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xff);
}
void put32(std::string& s, uint32_t v) {
  put16(s, static_cast<uint16_t>(v >> 16));
  put16(s, static_cast<uint16_t>(v & 0xffff));
}
uint16_t get16(std::string_view s, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(s[at]) << 8 | static_cast<uint8_t>(s[at + 1]));
}
uint32_t get32(std::string_view s, size_t at) {
  return static_cast<uint32_t>(get16(s, at)) << 16 | get16(s, at + 2);
}

std::string mac_bytes(const char* text) {
  std::string out;
  for (int i = 0; i < 6; ++i)
    out += static_cast<char>(std::stoi(std::string(text + 3 * i, 2), nullptr, 16));
  return out;
}

// The Internet checksum of data, continuing from `sum`.
uint16_t checksum(std::string_view data, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < data.size(); i += 2) sum += get16(data, i);
  if (data.size() % 2) sum += static_cast<uint32_t>(static_cast<uint8_t>(data.back())) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint32_t pseudo_header_sum(uint32_t src, uint32_t dst, uint8_t protocol, size_t length) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + protocol +
         static_cast<uint32_t>(length);
}

}  // namespace

uint16_t Ipv4Packet::l4_u16(size_t offset) const {
  return offset + 2 <= l4.size() ? get16(l4, offset) : 0;
}

bool FakeGuest::send_frame(const std::string& dst_mac, uint16_t ethertype,
                           const std::string& payload) {
  std::string frame(kVnetHeaderSize, '\0');  // no offloads: flags 0, gso_type NONE
  frame += dst_mac + mac_bytes(kGuestMac);
  put16(frame, ethertype);
  frame += payload;
  return ::write(fd_, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
}

bool FakeGuest::send_ipv4(uint32_t dst, uint8_t protocol, const std::string& l4) {
  std::string ip;
  put16(ip, 0x4500);  // version 4, 20-byte header
  put16(ip, static_cast<uint16_t>(20 + l4.size()));
  put16(ip, 0x1234);  // id
  put16(ip, 0x4000);  // don't fragment
  ip += static_cast<char>(64);
  ip += static_cast<char>(protocol);
  put16(ip, 0);
  put32(ip, kGuestIp);
  put32(ip, dst);
  const uint16_t sum = checksum(ip);
  ip[10] = static_cast<char>(sum >> 8);
  ip[11] = static_cast<char>(sum & 0xff);
  return send_frame(mac_bytes(kTapMac), kIpv4, ip + l4);
}

bool FakeGuest::send_udp(uint32_t dst, uint16_t src_port, uint16_t dst_port,
                         std::string_view data) {
  std::string udp;
  put16(udp, src_port);
  put16(udp, dst_port);
  put16(udp, static_cast<uint16_t>(8 + data.size()));
  put16(udp, 0);  // no checksum (allowed over IPv4)
  udp += data;
  return send_ipv4(dst, 17, udp);
}

bool FakeGuest::send_tcp(uint32_t dst, uint16_t src_port, uint16_t dst_port, uint8_t flags,
                         uint32_t seq, uint32_t ack) {
  std::string tcp;
  put16(tcp, src_port);
  put16(tcp, dst_port);
  put32(tcp, seq);
  put32(tcp, ack);
  tcp += static_cast<char>(5 << 4);  // 20-byte header
  tcp += static_cast<char>(flags);
  put16(tcp, 65535);  // window
  put16(tcp, 0);      // checksum, below
  put16(tcp, 0);      // urgent pointer
  const uint16_t sum = checksum(tcp, pseudo_header_sum(kGuestIp, dst, 6, tcp.size()));
  tcp[16] = static_cast<char>(sum >> 8);
  tcp[17] = static_cast<char>(sum & 0xff);
  return send_ipv4(dst, 6, tcp);
}

std::optional<Ipv4Packet> FakeGuest::receive(std::chrono::milliseconds timeout,
                                             const std::function<bool(const Ipv4Packet&)>& match) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < static_cast<ssize_t>(kVnetHeaderSize + 14)) continue;
    const std::string_view frame(buf + kVnetHeaderSize, static_cast<size_t>(n) - kVnetHeaderSize);
    const std::string_view body = frame.substr(14);
    const uint16_t type = get16(frame, 12);
    if (type == kArp && body.size() >= 28 && get16(body, 6) == 1 && get32(body, 24) == kGuestIp) {
      std::string reply;
      put16(reply, 1);  // Ethernet
      put16(reply, kIpv4);
      reply += static_cast<char>(6);
      reply += static_cast<char>(4);
      put16(reply, 2);  // reply
      reply += mac_bytes(kGuestMac);
      put32(reply, kGuestIp);
      reply += std::string(body.substr(8, 10));  // the asker's MAC and address
      send_frame(std::string(body.substr(8, 6)), kArp, reply);
      continue;
    }
    if (type != kIpv4 || body.size() < 20 || (body[0] & 0xf0) != 0x40) continue;
    const size_t header = static_cast<size_t>(body[0] & 0x0f) * 4;
    const size_t total = get16(body, 2);
    if (total < header || total > body.size()) continue;
    Ipv4Packet packet{get32(body, 12), get32(body, 16), static_cast<uint8_t>(body[9]),
                      std::string(body.substr(header, total - header))};
    if (packet.dst == kGuestIp && match(packet)) return packet;
  }
}

}  // namespace ember::host::net

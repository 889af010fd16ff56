// vsock_address: the sockaddr for a vsock CID and port, used for bind() and connect().
#pragma once

#include <sys/socket.h>
#include <linux/vm_sockets.h>

#include <cstdint>

namespace ember::agent {

inline sockaddr_vm vsock_address(uint32_t cid, uint32_t port) {
  sockaddr_vm addr = {};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = cid;
  addr.svm_port = port;
  return addr;
}

}  // namespace ember::agent

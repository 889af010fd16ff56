// VmSocketFiles: unique socket paths per VMM run and their cleanup.
#include "host/vm_socket_files.h"

#include <unistd.h>

#include <atomic>
#include <utility>

#include "common/agent_protocol.h"

namespace ember::host {

VmSocketFiles VmSocketFiles::fresh(const std::string& run_dir) {
  static std::atomic<uint64_t> counter{0};
  const std::string base =
      run_dir + "/ember-vm-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  VmSocketFiles files(base + ".vsock", base + ".api");
  ::unlink(files.vsock_uds.c_str());
  ::unlink(files.api_sock.c_str());
  return files;
}

VmSocketFiles::VmSocketFiles(VmSocketFiles&& other) noexcept
    : vsock_uds(std::exchange(other.vsock_uds, {})), api_sock(std::exchange(other.api_sock, {})) {}

VmSocketFiles::~VmSocketFiles() {
  if (!vsock_uds.empty()) {
    ::unlink(vsock_uds.c_str());
    ::unlink((vsock_uds + "_" + std::to_string(kAgentReadyPort)).c_str());
  }
  if (!api_sock.empty()) ::unlink(api_sock.c_str());
}

}  // namespace ember::host

// VmSocketFiles: the socket paths of one VMM run, removed when the VM is destroyed.
#pragma once

#include <string>

namespace ember::host {

struct VmSocketFiles {
  std::string vsock_uds, api_sock;

  // Fresh, unique paths under run_dir ("<run_dir>/ember-vm-<pid>-<n>.vsock" and ".api"); a
  // stale file left there by an earlier process with the same pid is removed.
  static VmSocketFiles fresh(const std::string& run_dir);

  VmSocketFiles(std::string vsock, std::string api)
      : vsock_uds(std::move(vsock)), api_sock(std::move(api)) {}
  VmSocketFiles(VmSocketFiles&& other) noexcept;
  VmSocketFiles& operator=(VmSocketFiles&&) = delete;
  VmSocketFiles(const VmSocketFiles&) = delete;
  // Unlinks both sockets, and the Ready socket (<vsock_uds>_1025) of a booted VM.
  ~VmSocketFiles();
};

}  // namespace ember::host

// The agent's two ways to run: as PID 1 of a microVM, or serving a Unix socket for tests.
#pragma once

#include <cstdint>
#include <string>

#include "guest-agent/refresh.h"

namespace ember::agent {

inline constexpr const char* kAgentVersion = "0.1.0";

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,  // setup or serving failed (as PID 1 this panics the guest: VMM exit 3)
  kExitUsage = 2,
};

struct AgentConfig {
  enum class Mode { kInit, kServeUnix };
  Mode mode = Mode::kInit;
  std::string serve_unix_path;   // kServeUnix: listen here instead of vsock port 1024
  std::string ready_unix_path;   // kServeUnix: send Ready to this socket (optional)
  bool vsock_handshake = false;  // kServeUnix: expect "CONNECT <port>\n" like ember-vmm's uds
  // kServeUnix: what a Refresh does (kInit always applies it for real) and where it is
  // recorded (optional).
  RefreshMode refresh_mode = RefreshMode::kSkip;
  std::string refresh_record_path;
  // The function runtime: where the Python and Node bootstraps live and the Runtime API's
  // port (0: ephemeral). kServeUnix takes both from flags; code devices are not mounted there.
  std::string runtimes_dir = "/opt/ember/runtimes";
  uint16_t runtime_api_port = 9001;
  uint64_t start_ns = 0;  // CLOCK_BOOTTIME at the start of main()
};

// kInit: system setup, switch root, Ready over vsock, serve; reboots on Shutdown and never
// returns then. kServeUnix: no mounts; serves until Shutdown, then exits the process with 0.
// Returns an ExitCode only on failure.
int run(const AgentConfig& config);

}  // namespace ember::agent

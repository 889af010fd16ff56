// EmberdConfig: everything emberd is told on its command line, and the flag parser.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/result.h"
#include "host/api/invoker.h"
#include "host/events/redis_client.h"

namespace ember::host {

// emberd's process exit codes.
enum class EmberdExit : int {
  kOk = 0,     // served, then drained on SIGTERM/SIGINT
  kError = 1,  // could not start (state, socket, invoker)
  kUsage = 2,
};

struct EmberdConfig {
  std::string socket_path = "/run/ember/ember.sock";
  std::string state_dir = "/var/lib/ember";
  std::string listen;  // HOST:PORT of the optional TCP listener; empty: none
  // The TCP listener's SigV4 keys (--credentials, the AWS CLI's credentials format); with
  // --insecure-no-auth (loopback addresses only) the listener is served without them.
  std::string credentials_file;
  bool insecure_no_auth = false;
  std::string socket_group = "ember";  // the Unix socket's group (mode 0660)
  std::string region = "us-east-1";
  std::chrono::seconds drain_timeout{30};
  size_t max_connections = 4096;   // open HTTP connections
  size_t handler_threads = 64;     // requests handled at once
  std::chrono::seconds request_timeout{60};  // a request's whole head and body, and its response
  std::chrono::seconds async_retry_delay{60};  // before the first retry after a function error
  uint32_t async_workers = 4;                  // Event invocations run at once
  // --redis [NAME=]URL, repeatable: the Redis servers event source mappings read and
  // destinations write to.
  std::vector<RedisServer> redis_servers;
  // Queue sources: how long a received record stays invisible; 0: the function's timeout + 10 s.
  std::chrono::seconds queue_visibility_timeout{0};
  // Per-VM networking (--network on): namespaces, taps, NAT and egress policies.
  bool network = true;
  std::string dns;                    // --dns: the guests' resolver; empty: the host's own
  uint32_t vm_max_connections = 4096;  // tracked connections per VM
  uint32_t vm_bandwidth_mbit = 1000;  // per VM and direction
  // state_dir, region and egress_default copied from above; invoker.jail from --jail (on
  // by default when emberd runs as root), --jail-uids and --jailer.
  InvokerConfig invoker;
};

struct EmberdFlags {
  bool help = false;  // print emberd_usage() and exit 0
  EmberdConfig config;
};

// Parses argv; unknown, malformed or out-of-range flags are errors meant for the user.
// --listen needs --credentials or --insecure-no-auth, and the latter a loopback address.
Result<EmberdFlags> parse_emberd_flags(int argc, const char* const argv[]);

// Whether HOST:PORT's host is a loopback address: 127.0.0.0/8, ::1 or "localhost".
bool is_loopback_listen(const std::string& host_port);

std::string emberd_usage();

}  // namespace ember::host

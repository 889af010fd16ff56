// ember-agent: PID 1 of an Ember microVM; flags into an AgentConfig, then run().
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "guest-agent/agent.h"
#include "guest-agent/init_system.h"

namespace {

constexpr const char* kUsage =
    "usage: ember-agent                 (as PID 1: boot the guest and serve vsock port 1024)\n"
    "       ember-agent --init          (the same when not PID 1)\n"
    "       ember-agent --serve-unix PATH [--ready-unix PATH] [--vsock-handshake]\n"
    "                   [--refresh skip|system|fail-rng|fail-clock] [--refresh-record PATH]\n"
    "                   [--runtime-api-port N] [--runtimes-dir DIR]\n"
    "                                   (serve the protocol on a Unix socket, no mounts;\n"
    "                                    a Refresh is acknowledged without effect unless\n"
    "                                    --refresh says otherwise, and logged to PATH;\n"
    "                                    the Runtime API on 127.0.0.1:N, default 9001,\n"
    "                                    0 = any free port; bootstraps from DIR, default\n"
    "                                    /opt/ember/runtimes)\n";

}  // namespace

int main(int argc, char** argv) {
  using ember::agent::AgentConfig;
  AgentConfig config;
  config.start_ns = ember::agent::boottime_ns();
  bool init = ::getpid() == 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--init") {
      init = true;
    } else if (arg == "--serve-unix" || arg == "--ready-unix") {
      const char* v = value();
      if (v == nullptr) {
        std::fprintf(stderr, "ember-agent: %s needs a path\n%s", argv[i], kUsage);
        return ember::agent::kExitUsage;
      }
      (arg == "--serve-unix" ? config.serve_unix_path : config.ready_unix_path) = v;
    } else if (arg == "--refresh" || arg == "--refresh-record") {
      const char* v = value();
      if (v == nullptr) {
        std::fprintf(stderr, "ember-agent: %s needs a value\n%s", argv[i], kUsage);
        return ember::agent::kExitUsage;
      }
      if (arg == "--refresh-record") {
        config.refresh_record_path = v;
        continue;
      }
      auto mode = ember::agent::parse_refresh_mode(v);
      if (!mode.ok()) {
        std::fprintf(stderr, "ember-agent: %s\n%s", mode.error().message().c_str(), kUsage);
        return ember::agent::kExitUsage;
      }
      config.refresh_mode = *mode;
    } else if (arg == "--runtime-api-port" || arg == "--runtimes-dir") {
      const char* v = value();
      if (v == nullptr) {
        std::fprintf(stderr, "ember-agent: %s needs a value\n%s", argv[i], kUsage);
        return ember::agent::kExitUsage;
      }
      if (arg == "--runtimes-dir") {
        config.runtimes_dir = v;
        continue;
      }
      char* end = nullptr;
      unsigned long port = std::strtoul(v, &end, 10);
      if (*v == '\0' || *end != '\0' || port > 65535) {
        std::fprintf(stderr, "ember-agent: bad port '%s'\n%s", v, kUsage);
        return ember::agent::kExitUsage;
      }
      config.runtime_api_port = static_cast<uint16_t>(port);
    } else if (arg == "--vsock-handshake") {
      config.vsock_handshake = true;
    } else if (arg == "--version") {
      std::printf("ember-agent %s\n", ember::agent::kAgentVersion);
      return ember::agent::kExitOk;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return ember::agent::kExitOk;
    } else if (::getpid() != 1) {
      // As PID 1 the kernel passes unknown cmdline words as arguments: ignore them there.
      std::fprintf(stderr, "ember-agent: unknown argument '%s'\n%s", argv[i], kUsage);
      return ember::agent::kExitUsage;
    }
  }
  if (!config.serve_unix_path.empty()) {
    config.mode = AgentConfig::Mode::kServeUnix;
  } else if (init) {
    config.mode = AgentConfig::Mode::kInit;
  } else {
    std::fputs(kUsage, stderr);
    return ember::agent::kExitUsage;
  }
  if (config.mode == AgentConfig::Mode::kServeUnix) {
    // Child stdio must be real fds so pipes never land on 0-2.
    for (int fd = 0; fd < 3; ++fd) {
      if (::fcntl(fd, F_GETFD) < 0) ::open("/dev/null", O_RDWR);
    }
  }
  return ember::agent::run(config);
}

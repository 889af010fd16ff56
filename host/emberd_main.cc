// emberd: parses flags into an EmberdConfig and runs the daemon until SIGTERM/SIGINT.
#include <cstdio>

#include "host/api/daemon.h"
#include "host/api/emberd_flags.h"
#include "host/jail/vm_jail.h"

int main(int argc, char** argv) {
  using ember::host::EmberdExit;
  auto parsed = ember::host::parse_emberd_flags(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "emberd: %s\nTry 'emberd --help'.\n", parsed.error().message().c_str());
    return static_cast<int>(EmberdExit::kUsage);
  }
  if (parsed->help) {
    std::fputs(ember::host::emberd_usage().c_str(), stdout);
    return 0;
  }
  const ember::host::EmberdConfig& config = parsed->config;
  if (config.invoker.jail.enabled && !ember::host::jail::can_jail()) {
    std::fprintf(stderr, "emberd: --jail on needs root (the jailer makes namespaces, mounts and "
                         "device nodes); run as root or give --jail off\n");
    return static_cast<int>(EmberdExit::kError);
  }
  if (!config.invoker.jail.enabled) {
    std::fprintf(stderr, "emberd: warning: --jail off: every ember-vmm runs as emberd's user "
                         "with its capabilities and sees the whole file system\n");
  }
  return static_cast<int>(ember::host::run_emberd(config));
}

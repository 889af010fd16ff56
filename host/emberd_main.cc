// emberd: parses flags into an EmberdConfig and runs the daemon until SIGTERM/SIGINT.
#include <cstdio>

#include "host/api/daemon.h"
#include "host/api/emberd_flags.h"

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
  return static_cast<int>(ember::host::run_emberd(parsed->config));
}

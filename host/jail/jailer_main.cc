// ember-jailer: parses its flags, jails itself and execs the VMM (see jailer.h).
#include <cstdio>
#include <cstring>

#include "host/jail/jail_args.h"
#include "host/jail/jailer.h"

int main(int argc, char** argv) {
  using namespace ember::host::jail;
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(jailer_usage().c_str(), stdout);
    return 0;
  }
  auto args = parse_jailer_args(std::vector<std::string>(argv, argv + argc));
  if (!args.ok()) {
    std::fprintf(stderr, "ember-jailer: %s\n%s", args.error().message().c_str(),
                 jailer_usage().c_str());
    return 125;
  }
  ember::Status failed = run_jailer(*args);
  std::fprintf(stderr, "ember-jailer: %s\n", failed.error().message().c_str());
  return kJailStepFailed;
}

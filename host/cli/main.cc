// ember: the command-line client of emberd; parses the command line and runs it.
#include <cstdlib>
#include <iostream>

#include "host/cli/command_line.h"
#include "host/cli/commands.h"

int main(int argc, char** argv) {
  using ember::cli::ExitCode;
  using ember::cli::ParseOutcome;
  const std::vector<std::string> args(argv + 1, argv + argc);
  const ParseOutcome parsed = ember::cli::parse_command_line(args, std::getenv("EMBER_SOCKET"),
                                                             std::getenv("EMBER_ENDPOINT"));
  switch (parsed.kind) {
    case ParseOutcome::Kind::kHelp:
      std::cout << parsed.usage;
      return static_cast<int>(ExitCode::kOk);
    case ParseOutcome::Kind::kUsageError:
      std::cerr << "ember: " << parsed.message << "\n\n" << parsed.usage;
      return static_cast<int>(ExitCode::kUsage);
    case ParseOutcome::Kind::kRun:
      break;
  }
  return static_cast<int>(ember::cli::run(parsed.line));
}

// Helpers every fuzz target shares: invariant checks that crash, and seed writing.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ember::fuzz {

// A broken invariant is a finding: print it and abort so libFuzzer keeps the input.
#define EMBER_FUZZ_ASSERT(cond)                                                          \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

inline void write_seed(const std::string& dir, const std::string& name, std::string_view bytes) {
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write seed %s; does the directory exist?\n", path.c_str());
    std::exit(1);
  }
}
inline void write_seed(const std::string& dir, const std::string& name,
                       const std::vector<uint8_t>& bytes) {
  write_seed(dir, name, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// Call from LLVMFuzzerInitialize: with "--write-seeds=DIR" on the command line, writes the
// target's seed corpus into DIR with `write` and exits; otherwise returns.
inline void maybe_write_seeds(int argc, char** argv,
                              const std::function<void(const std::string& dir)>& write) {
  constexpr std::string_view kFlag = "--write-seeds=";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.substr(0, kFlag.size()) == kFlag) {
      write(std::string(arg.substr(kFlag.size())));
      std::exit(0);
    }
  }
}

}  // namespace ember::fuzz

// Defines the target's LLVMFuzzerInitialize: with "--write-seeds=DIR", `write` writes its
// seed corpus into DIR and the process exits.
#define EMBER_FUZZ_SEEDS(write)                                  \
  extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) { \
    ::ember::fuzz::maybe_write_seeds(*argc, *argv, write);       \
    return 0;                                                    \
  }

// Nft: one libnftables context (struct nft_ctx), running nft commands in-process.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

struct nft_ctx;

namespace ember::host::net {

// Not thread-safe: one user at a time. Its netlink socket belongs to the network namespace
// of the thread that calls create(), so make it there (e.g. inside a VM's netns).
class Nft {
 public:
  static Result<Nft> create();

  // Runs nft commands or a ruleset (what `nft -f` reads) as one transaction. On failure the
  // error's context holds nft's own message (with the offending line marked).
  Status run(std::string_view commands);
  // Runs a command that prints (e.g. "list map inet ember egress") and returns its output.
  Result<std::string> output(std::string_view command);

 private:
  struct Free {
    void operator()(nft_ctx* ctx) const;
  };
  explicit Nft(nft_ctx* ctx) : ctx_(ctx) {}
  std::unique_ptr<nft_ctx, Free> ctx_;
};

}  // namespace ember::host::net

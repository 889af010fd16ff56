// Nft: libnftables with its output and errors captured in memory.
#include "host/net/nft.h"

#include <nftables/libnftables.h>

namespace ember::host::net {

void Nft::Free::operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }

Result<Nft> Nft::create() {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return make_error("nftables", "nft_ctx_new failed");
  Nft nft(ctx);
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    return make_error("nftables", "cannot buffer nft's output");
  }
  return nft;
}

Result<std::string> Nft::output(std::string_view command) {
  const std::string text(command);  // libnftables wants a NUL-terminated buffer
  const int rc = nft_run_cmd_from_buffer(ctx_.get(), text.c_str());
  // Reading a buffer also empties it for the next command.
  std::string out = nft_ctx_get_output_buffer(ctx_.get());
  std::string err = nft_ctx_get_error_buffer(ctx_.get());
  if (rc != 0) {
    while (!err.empty() && err.back() == '\n') err.pop_back();
    if (err.empty()) err = "nft failed without a message";
    return make_error("nft", err);
  }
  return out;
}

Status Nft::run(std::string_view commands) {
  auto result = output(commands);
  if (!result.ok()) return result.error();
  return {};
}

}  // namespace ember::host::net

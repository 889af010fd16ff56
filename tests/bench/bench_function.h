// BenchFunction: the benchmark's tiny Python function, its erofs code image and its requests.
#pragma once

#include <string>

#include "common/agent_protocol.h"
#include "common/result.h"

namespace ember::bench {

class BenchFunction {
 public:
  // Writes app.py (a handler that imports a few standard modules and echoes the event) into
  // <dir>/code and packs it with mkfs_erofs into <dir>/code.erofs.
  static Result<BenchFunction> create(const std::string& dir, const std::string& mkfs_erofs,
                                      uint32_t memory_mb);

  // The erofs image to attach as the VM's /dev/vdb.
  const std::string& code_image() const { return code_image_; }

  // InitRuntime for python3.11, handler app.handler, Lambda's environment, code on /dev/vdb.
  InitRuntime init_request() const;
  // Invocation number n: a small JSON event carrying n.
  Invoke invoke_request(uint32_t n) const;
  // The response must be a success echoing invocation n's event; otherwise an error with
  // what came back instead.
  static Status check_response(const InvokeResult& result, uint32_t n);

 private:
  BenchFunction(std::string code_image, uint32_t memory_mb)
      : code_image_(std::move(code_image)), memory_mb_(memory_mb) {}

  std::string code_image_;
  uint32_t memory_mb_;
};

}  // namespace ember::bench

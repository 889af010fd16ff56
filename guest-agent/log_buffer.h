// LogBuffer: the runtime's output between two results, capped, safe to share across threads.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

namespace ember::agent {

class LogBuffer {
 public:
  explicit LogBuffer(size_t cap) : cap_(cap) {}

  // Keeps bytes up to the cap and counts the rest.
  void append(std::string_view bytes);
  // Everything kept since the last take(), followed, when bytes were dropped, by a line
  // "[ember-agent: N more bytes of output dropped]"; then starts over empty.
  std::string take();

 private:
  std::mutex mu_;
  const size_t cap_;
  std::string kept_;
  size_t dropped_ = 0;
};

}  // namespace ember::agent

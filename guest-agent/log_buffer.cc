// LogBuffer: keep the head of the output, count the tail, say so at the end.
#include "guest-agent/log_buffer.h"

#include <algorithm>

namespace ember::agent {

void LogBuffer::append(std::string_view bytes) {
  std::lock_guard lock(mu_);
  size_t keep = std::min(bytes.size(), cap_ - std::min(cap_, kept_.size()));
  kept_.append(bytes.substr(0, keep));
  dropped_ += bytes.size() - keep;
}

std::string LogBuffer::take() {
  std::lock_guard lock(mu_);
  std::string out = std::move(kept_);
  if (dropped_ > 0) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += "[ember-agent: " + std::to_string(dropped_) + " more bytes of output dropped]\n";
  }
  kept_.clear();
  dropped_ = 0;
  return out;
}

}  // namespace ember::agent

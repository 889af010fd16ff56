// Refresh: RNDADDENTROPY/RNDRESEEDCRNG on /dev/urandom, clock_settime, and the test modes.
#include "guest-agent/refresh.h"

#include <fcntl.h>
#include <linux/random.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "common/unique_fd.h"

namespace ember::agent {
namespace {

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    out += kDigits[static_cast<uint8_t>(c) >> 4];
    out += kDigits[static_cast<uint8_t>(c) & 0xf];
  }
  return out;
}

Status append_line(const std::string& path, const std::string& line) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) return errno_error("open the refresh record", path);
  // One write of the whole line so concurrent sessions never interleave within a line.
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return errno_error("write the refresh record", path);
  }
  return {};
}

}  // namespace

Result<RefreshMode> parse_refresh_mode(std::string_view text) {
  if (text == "system") return RefreshMode::kSystem;
  if (text == "skip") return RefreshMode::kSkip;
  if (text == "fail-rng") return RefreshMode::kFailRng;
  if (text == "fail-clock") return RefreshMode::kFailClock;
  return make_error("parse --refresh",
                    "'" + std::string(text) + "' is not one of system, skip, fail-rng, fail-clock");
}

Status add_kernel_entropy(std::string_view entropy) {
  if (entropy.size() > kMaxRefreshEntropy) {
    return make_error("add entropy", std::to_string(entropy.size()) + " bytes is over the limit");
  }
  UniqueFd fd(::open("/dev/urandom", O_WRONLY | O_CLOEXEC));
  if (!fd) return errno_error("open /dev/urandom");
  // struct rand_pool_info ends in a flexible array of u32: allocate it with its payload.
  const size_t words = (entropy.size() + 3) / 4;
  std::unique_ptr<uint32_t[]> storage(new uint32_t[2 + words]());
  auto* info = reinterpret_cast<rand_pool_info*>(storage.get());
  info->entropy_count = static_cast<int>(8 * entropy.size());
  info->buf_size = static_cast<int>(entropy.size());
  std::memcpy(info->buf, entropy.data(), entropy.size());
  if (::ioctl(fd.get(), RNDADDENTROPY, info) != 0) {
    return errno_error("ioctl RNDADDENTROPY", "/dev/urandom");
  }
  if (::ioctl(fd.get(), RNDRESEEDCRNG) != 0) return errno_error("ioctl RNDRESEEDCRNG");
  return {};
}

Status set_realtime_clock(uint64_t unix_time_ns) {
  timespec ts = {};
  ts.tv_sec = static_cast<time_t>(unix_time_ns / 1'000'000'000u);
  ts.tv_nsec = static_cast<long>(unix_time_ns % 1'000'000'000u);
  if (::clock_settime(CLOCK_REALTIME, &ts) != 0) {
    return errno_error("clock_settime(CLOCK_REALTIME)", std::to_string(unix_time_ns) + " ns");
  }
  return {};
}

RefreshActions refresh_actions(RefreshMode mode, std::string record_path) {
  RefreshActions actions;
  switch (mode) {
    case RefreshMode::kSystem:
      actions = {add_kernel_entropy, set_realtime_clock};
      break;
    case RefreshMode::kSkip:
      actions = {[](std::string_view) { return Status(); }, [](uint64_t) { return Status(); }};
      break;
    case RefreshMode::kFailRng:
      actions = {[](std::string_view) -> Status {
                   return make_error("ioctl RNDADDENTROPY", "failure injected by --refresh");
                 },
                 [](uint64_t) { return Status(); }};
      break;
    case RefreshMode::kFailClock:
      actions = {[](std::string_view) { return Status(); },
                 [](uint64_t) -> Status {
                   return make_error("clock_settime(CLOCK_REALTIME)",
                                     "failure injected by --refresh");
                 }};
      break;
  }
  if (!record_path.empty()) {
    // The test modes have no /dev/mem to read: the prefetch's start is recorded instead.
    actions.prefetch = [record_path](std::vector<GuestPageRun> runs) {
      uint64_t pages = 0;
      for (const GuestPageRun& run : runs) pages += run.pages;
      (void)append_line(record_path, "prefetch pages=" + std::to_string(pages) + "\n");
    };
  }
  actions.record_path = std::move(record_path);
  return actions;
}

AgentMessage handle_refresh(const Refresh& refresh, const RefreshActions& actions) {
  if (!actions.add_entropy || !actions.set_clock) {
    return ErrorReply{"refresh failed: this agent has no refresh actions configured"};
  }
  std::string failures;
  if (!actions.record_path.empty()) {
    uint64_t prefetch_pages = 0;
    for (const GuestPageRun& run : refresh.prefetch) prefetch_pages += run.pages;
    std::string line = "entropy=" + to_hex(refresh.entropy) +
                       " unix_time_ns=" + std::to_string(refresh.unix_time_ns) +
                       " prefetch_pages=" + std::to_string(prefetch_pages) + "\n";
    if (Status s = append_line(actions.record_path, line); !s.ok()) {
      failures = "not recorded: " + s.error().message();
    }
  }
  if (Status s = actions.add_entropy(refresh.entropy); !s.ok()) {
    if (!failures.empty()) failures += "; ";
    failures += "entropy not added: " + s.error().message();
  }
  if (Status s = actions.set_clock(refresh.unix_time_ns); !s.ok()) {
    if (!failures.empty()) failures += "; ";
    failures += "clock not set: " + s.error().message();
  }
  if (!failures.empty()) return ErrorReply{"refresh failed: " + failures};
  return RefreshAck{};
}

}  // namespace ember::agent

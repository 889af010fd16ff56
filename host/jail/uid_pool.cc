// UidPool: a range of uids, handed out round-robin, each to one live VM.
#include "host/jail/uid_pool.h"

#include <cerrno>
#include <cstdlib>

namespace ember::host::jail {
namespace {

bool parse_uid(const std::string& text, uint64_t& out) {
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  out = std::strtoull(text.c_str(), nullptr, 10);
  return true;
}

}  // namespace

Result<UidRange> parse_uid_range(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return make_error("uid range", "'" + text + "': " + why + " (give FIRST-LAST, e.g. 900000-965535)");
  };
  const size_t dash = text.find('-');
  if (dash == std::string::npos) return bad("no '-'");
  uint64_t first = 0, last = 0;
  if (!parse_uid(text.substr(0, dash), first) || !parse_uid(text.substr(dash + 1), last)) {
    return bad("not two numbers");
  }
  if (first == 0) return bad("uid 0 is root");
  if (last >= 0xffffffffull) return bad("uids must be below 4294967295");
  if (first > last) return bad("FIRST is above LAST");
  return UidRange{static_cast<uid_t>(first), static_cast<uid_t>(last)};
}

std::shared_ptr<UidPool> UidPool::create(UidRange range) {
  return std::shared_ptr<UidPool>(new UidPool(range));
}

Result<UidLease> UidPool::acquire() {
  std::lock_guard lock(mu_);
  const uint64_t size = uint64_t{range_.last} - range_.first + 1;
  if (taken_.size() >= size) {
    Error e = make_error("jail", "all " + std::to_string(size) +
                                     " uids of --jail-uids are in use by live VMs; give a wider range");
    e.code = EAGAIN;
    return e;
  }
  uid_t uid = next_;
  while (taken_.count(uid)) uid = uid == range_.last ? range_.first : uid + 1;
  taken_.insert(uid);
  next_ = uid == range_.last ? range_.first : uid + 1;
  return UidLease(shared_from_this(), uid);
}

size_t UidPool::in_use() {
  std::lock_guard lock(mu_);
  return taken_.size();
}

void UidPool::release(uid_t uid) {
  std::lock_guard lock(mu_);
  taken_.erase(uid);
}

UidLease::UidLease(UidLease&& other) noexcept
    : pool_(std::move(other.pool_)), uid_(std::exchange(other.uid_, 0)) {}

UidLease& UidLease::operator=(UidLease&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::move(other.pool_);
    uid_ = std::exchange(other.uid_, 0);
  }
  return *this;
}

UidLease::~UidLease() { release(); }

void UidLease::release() {
  if (pool_) pool_->release(uid_);
  pool_.reset();
  uid_ = 0;
}

}  // namespace ember::host::jail

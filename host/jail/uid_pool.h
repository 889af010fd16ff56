// UidPool: the per-VM uids (gid = uid) handed out from a configured range, one per live VM.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/result.h"

namespace ember::host::jail {

struct UidRange {
  uid_t first = 900000;
  uid_t last = 965535;
};

// Parses "FIRST-LAST" (both non-zero, FIRST <= LAST, below 2^32-1).
Result<UidRange> parse_uid_range(const std::string& text);

class UidPool;

// One uid taken from a pool; given back when destroyed (after the VM that used it is gone).
class UidLease {
 public:
  UidLease() = default;
  UidLease(UidLease&& other) noexcept;
  UidLease& operator=(UidLease&& other) noexcept;
  ~UidLease();
  uid_t uid() const { return uid_; }

 private:
  friend class UidPool;
  UidLease(std::shared_ptr<UidPool> pool, uid_t uid) : pool_(std::move(pool)), uid_(uid) {}
  void release();
  std::shared_ptr<UidPool> pool_;
  uid_t uid_ = 0;
};

// Thread-safe. Must be owned by a shared_ptr (leases keep it alive).
class UidPool : public std::enable_shared_from_this<UidPool> {
 public:
  static std::shared_ptr<UidPool> create(UidRange range);
  // A uid no live lease holds: the lowest free one at or after the last handed out, so
  // that a uid just given back is not reused at once. EAGAIN when all are taken.
  Result<UidLease> acquire();
  size_t in_use();

 private:
  explicit UidPool(UidRange range) : range_(range), next_(range.first) {}
  friend class UidLease;
  void release(uid_t uid);

  const UidRange range_;
  std::mutex mu_;
  std::set<uid_t> taken_;
  uid_t next_;
};

}  // namespace ember::host::jail

// The per-VM uid range and its pool.
#include "host/jail/uid_pool.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <optional>
#include <set>

namespace ember::host::jail {
namespace {

TEST(UidRangeTest, Parses) {
  auto r = parse_uid_range("900000-965535");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first, 900000u);
  EXPECT_EQ(r->last, 965535u);
  auto one = parse_uid_range("7-7");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->first, 7u);
  for (const char* bad : {"", "5", "0-10", "10-5", "a-b", "1-4294967295", "-5", "5-", "1-2-3",
                          "99999999999-1"}) {
    EXPECT_FALSE(parse_uid_range(bad).ok()) << bad;
  }
  EXPECT_NE(parse_uid_range("0-10").error().message().find("root"), std::string::npos);
}

TEST(UidPoolTest, EachLiveLeaseHasItsOwnUid) {
  auto pool = UidPool::create({100, 103});
  std::vector<UidLease> leases;
  std::set<uid_t> seen;
  for (int i = 0; i < 4; ++i) {
    auto lease = pool->acquire();
    ASSERT_TRUE(lease.ok());
    EXPECT_GE(lease->uid(), 100u);
    EXPECT_LE(lease->uid(), 103u);
    seen.insert(lease->uid());
    leases.push_back(std::move(lease).value());
  }
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(pool->in_use(), 4u);
  auto full = pool->acquire();
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, EAGAIN);
  EXPECT_NE(full.error().message().find("--jail-uids"), std::string::npos);

  const uid_t freed = leases[1].uid();
  leases.erase(leases.begin() + 1);  // the VM is gone: its uid goes back
  EXPECT_EQ(pool->in_use(), 3u);
  auto again = pool->acquire();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->uid(), freed);
}

TEST(UidPoolTest, AFreedUidIsNotReusedAtOnce) {
  auto pool = UidPool::create({10, 20});
  std::optional<UidLease> a(pool->acquire().value());
  const uid_t first = a->uid();
  a.reset();
  auto b = pool->acquire();
  ASSERT_TRUE(b.ok());
  EXPECT_NE(b->uid(), first);  // round-robin: the next uid, not the one just freed
}

TEST(UidPoolTest, MovedLeaseReleasesOnce) {
  auto pool = UidPool::create({1, 2});
  UidLease moved;
  {
    UidLease lease = pool->acquire().value();
    moved = std::move(lease);
    EXPECT_EQ(lease.uid(), 0u);
  }
  EXPECT_EQ(pool->in_use(), 1u);
  moved = UidLease();
  EXPECT_EQ(pool->in_use(), 0u);
}

}  // namespace
}  // namespace ember::host::jail

// Tests of the Redis Streams helpers (groups, reads, acks, claims, pending counts, lag)
// against a real redis-server started by the fixture.
#include <gtest/gtest.h>

#include "host/events/redis_test_server.h"

namespace ember::host {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Fields = std::vector<std::pair<std::string, std::string>>;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class RedisStreamsTest : public RedisServerTest {};

TEST_F(RedisStreamsTest, EnsureGroupTwiceIsFine) {
  ASSERT_REDIS_CONNECT(c, unix_server(), 5s);
  auto first = ensure_group(c, "orders", "lambda", "0");
  ASSERT_TRUE(first.ok()) << first.error().message();
  auto second = ensure_group(c, "orders", "lambda", "$");
  ASSERT_TRUE(second.ok()) << second.error().message();
  auto groups = c.command({"XINFO", "GROUPS", "orders"});
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(groups->elements.size(), 1u);  // MKSTREAM made the stream, once

  ASSERT_TRUE(c.command({"SET", "plain", "x"}).ok());
  auto wrong_type = ensure_group(c, "plain", "lambda", "0");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.error().context.rfind("WRONGTYPE", 0), 0u) << wrong_type.error().message();
}

TEST_F(RedisStreamsTest, AddReadPendingAckRoundTripIsBinarySafe) {
  ASSERT_REDIS_CONNECT(c, tcp_server(), 5s);
  const std::string key("bin\0key", 7);
  ASSERT_TRUE(ensure_group(c, key, "g", "$").ok());
  const Fields fields = {{"body", std::string("a\0b\xff\r\n", 6)}, {"", "empty name"}};
  auto id = xadd(c, key, fields);
  ASSERT_TRUE(id.ok()) << id.error().message();
  EXPECT_NE(id->find('-'), std::string::npos) << *id;

  auto read = xreadgroup(c, "g", "worker-1", key, 10, 100);
  ASSERT_TRUE(read.ok()) << read.error().message();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].id, *id);
  EXPECT_EQ((*read)[0].fields, fields);
  EXPECT_FALSE((*read)[0].deleted);

  // Nothing new: BLOCK waits, then answers empty.
  const auto start = Clock::now();
  auto none = xreadgroup(c, "g", "worker-1", key, 10, 80);
  ASSERT_TRUE(none.ok()) << none.error().message();
  EXPECT_TRUE(none->empty());
  EXPECT_GE(Clock::now() - start, 70ms);
  auto no_block = xreadgroup(c, "g", "worker-1", key, 10, std::nullopt);
  ASSERT_TRUE(no_block.ok()) << no_block.error().message();
  EXPECT_TRUE(no_block->empty());

  // "0": this consumer's pending entries, again; another consumer has none.
  auto pending = xreadgroup(c, "g", "worker-1", key, 10, std::nullopt, "0");
  ASSERT_TRUE(pending.ok()) << pending.error().message();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].fields, fields);
  EXPECT_TRUE(xreadgroup(c, "g", "worker-2", key, 10, std::nullopt, "0")->empty());

  auto counts = xpending_counts(c, key, "g", 10);
  ASSERT_TRUE(counts.ok()) << counts.error().message();
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0].first, *id);
  EXPECT_EQ((*counts)[0].second, 2);  // the first read and the re-read of "0"
  EXPECT_TRUE(xpending_counts(c, key, "g", 10, "worker-2")->empty());

  ASSERT_TRUE(xack(c, key, "g", {*id}).ok());
  ASSERT_TRUE(xack(c, key, "g", {}).ok());
  EXPECT_TRUE(xpending_counts(c, key, "g", 10)->empty());
  EXPECT_TRUE(xreadgroup(c, "g", "worker-1", key, 10, std::nullopt, "0")->empty());
  EXPECT_FALSE(xadd(c, key, {}).ok());
}

TEST_F(RedisStreamsTest, BlockMustBeShorterThanTheIoTimeout) {
  ASSERT_REDIS_CONNECT(c, unix_server(), 500ms);
  ASSERT_TRUE(ensure_group(c, "s", "g", "$").ok());
  for (int64_t block : {500, 5000, 0, -1}) {
    auto read = xreadgroup(c, "g", "w", "s", 1, block);
    ASSERT_FALSE(read.ok()) << block;
    EXPECT_TRUE(contains(read.error().message(), "shorter than the connection's io timeout"))
        << read.error().message();
  }
  EXPECT_FALSE(c.broken());  // refused before anything was sent
  EXPECT_TRUE(xreadgroup(c, "g", "w", "s", 1, 100).ok());
  auto missing_group = xreadgroup(c, "nogroup", "w", "s", 1, std::nullopt);
  ASSERT_FALSE(missing_group.ok());
  EXPECT_EQ(missing_group.error().context.rfind("NOGROUP", 0), 0u);
}

TEST_F(RedisStreamsTest, AutoclaimTakesIdleEntriesAndSkipsDeletedOnes) {
  ASSERT_REDIS_CONNECT(c, unix_server(), 5s);
  ASSERT_TRUE(ensure_group(c, "jobs", "g", "0").ok());
  std::vector<std::string> ids;
  for (const char* n : {"1", "2", "3"}) ids.push_back(*xadd(c, "jobs", {{"n", n}}));
  ASSERT_EQ(xreadgroup(c, "g", "crashed", "jobs", 10, std::nullopt)->size(), 3u);

  auto too_fresh = xautoclaim(c, "jobs", "g", "rescuer", 60'000, "0-0", 10);
  ASSERT_TRUE(too_fresh.ok()) << too_fresh.error().message();
  EXPECT_TRUE(too_fresh->second.empty());

  ASSERT_EQ(c.command({"XDEL", "jobs", ids[0]})->integer, 1);
  // While pending, a deleted entry reads back as an id without fields.
  auto pending = xreadgroup(c, "g", "crashed", "jobs", 10, std::nullopt, "0");
  ASSERT_TRUE(pending.ok()) << pending.error().message();
  ASSERT_EQ(pending->size(), 3u);
  EXPECT_EQ((*pending)[0].id, ids[0]);
  EXPECT_TRUE((*pending)[0].deleted);
  EXPECT_TRUE((*pending)[0].fields.empty());
  EXPECT_FALSE((*pending)[1].deleted);

  std::this_thread::sleep_for(50ms);
  // Redis counts the deleted entry toward COUNT: an empty batch, but not the end.
  auto skipped = xautoclaim(c, "jobs", "g", "rescuer", 20, "0-0", 1);
  ASSERT_TRUE(skipped.ok()) << skipped.error().message();
  EXPECT_TRUE(skipped->second.empty());
  EXPECT_EQ(skipped->first, ids[1]);  // where the next call starts
  auto second = xautoclaim(c, "jobs", "g", "rescuer", 20, skipped->first, 1);
  ASSERT_TRUE(second.ok()) << second.error().message();
  ASSERT_EQ(second->second.size(), 1u);
  EXPECT_EQ(second->second[0].id, ids[1]);
  EXPECT_EQ(second->second[0].fields, (Fields{{"n", "2"}}));
  EXPECT_EQ(second->first, ids[2]);
  auto rest = xautoclaim(c, "jobs", "g", "rescuer", 20, second->first, 10);
  ASSERT_TRUE(rest.ok()) << rest.error().message();
  ASSERT_EQ(rest->second.size(), 1u);
  EXPECT_EQ(rest->second[0].id, ids[2]);
  EXPECT_EQ(rest->first, "0-0");  // the scan went round
  // The deleted entry left the group's pending list with that scan.
  auto left = xpending_counts(c, "jobs", "g", 10);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 2u);

  auto rescued = xpending_counts(c, "jobs", "g", 10, "rescuer");
  ASSERT_TRUE(rescued.ok()) << rescued.error().message();
  ASSERT_EQ(rescued->size(), 2u);
  EXPECT_EQ((*rescued)[0].second, 3);  // read, re-read with "0", claimed
  EXPECT_TRUE(xpending_counts(c, "jobs", "g", 10, "crashed")->empty());
}

TEST_F(RedisStreamsTest, GroupLagCountsUndeliveredAndPending) {
  ASSERT_REDIS_CONNECT(c, tcp_server(), 5s);
  for (const char* n : {"1", "2", "3"}) ASSERT_TRUE(xadd(c, "lagging", {{"n", n}}).ok());
  ASSERT_TRUE(ensure_group(c, "lagging", "g", "0").ok());
  ASSERT_TRUE(ensure_group(c, "lagging", "late", "$").ok());
  EXPECT_EQ(*group_lag(c, "lagging", "g"), 3);
  EXPECT_EQ(*group_lag(c, "lagging", "late"), 0);

  auto two = xreadgroup(c, "g", "w", "lagging", 2, std::nullopt);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ(*group_lag(c, "lagging", "g"), 3);  // 1 undelivered + 2 pending
  ASSERT_TRUE(xack(c, "lagging", "g", {(*two)[0].id, (*two)[1].id}).ok());
  EXPECT_EQ(*group_lag(c, "lagging", "g"), 1);
  auto last = xreadgroup(c, "g", "w", "lagging", 10, std::nullopt);
  ASSERT_EQ(last->size(), 1u);
  ASSERT_TRUE(xack(c, "lagging", "g", {(*last)[0].id}).ok());
  EXPECT_EQ(*group_lag(c, "lagging", "g"), 0);

  auto no_group = group_lag(c, "lagging", "nobody");
  ASSERT_FALSE(no_group.ok());
  EXPECT_TRUE(contains(no_group.error().message(), "no consumer group nobody"));
  EXPECT_FALSE(group_lag(c, "no-such-stream", "g").ok());
}

TEST_F(RedisStreamsTest, GroupLagIsUnknownAfterDeletionsItCannotCount) {
  ASSERT_REDIS_CONNECT(c, tcp_server(), 5s);
  ASSERT_TRUE(ensure_group(c, "holes", "g", "0").ok());
  std::vector<std::string> ids;
  for (const char* n : {"1", "2", "3"}) ids.push_back(*xadd(c, "holes", {{"n", n}}));
  ASSERT_EQ(c.command({"XDEL", "holes", ids[1]})->integer, 1);
  // Redis 7 answers a nil lag when a deleted entry lies between the group and the end.
  EXPECT_EQ(*group_lag(c, "holes", "g"), -1);
}

}  // namespace
}  // namespace ember::host

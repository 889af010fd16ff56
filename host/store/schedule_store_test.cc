// Tests for ScheduleStore: every field round-trips, listing, updates, removal, a shared file.
#include "host/store/schedule_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <filesystem>

#include "host/store/function_store.h"

namespace ember::host {
namespace {

class ScheduleStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-schedule-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/functions.db";
    auto store = ScheduleStore::open(path_);
    ASSERT_TRUE(store.ok()) << store.error().message();
    store_.emplace(std::move(store).value());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static ScheduleRecord record(const std::string& name) {
    ScheduleRecord r;
    r.name = name;
    r.expression = "rate(1 hour)";
    r.target.arn = "arn:aws:lambda:us-east-1:000000000000:function:fn";
    r.target.role_arn = "arn:aws:iam::123456789012:role/r";
    r.created_s = r.modified_s = 1000;
    return r;
  }
  std::vector<std::string> names(const std::string& prefix, const std::string& state = "",
                                 const std::string& after = "", size_t limit = 100) {
    std::vector<std::string> out;
    auto listed = store_->list(after, prefix, state, limit);  // kept alive for the loop
    EXPECT_TRUE(listed.ok());
    if (listed.ok()) {
      for (const ScheduleRecord& r : *listed) out.push_back(r.name);
    }
    return out;
  }

  std::string dir_;
  std::string path_;
  std::optional<ScheduleStore> store_;
};

TEST_F(ScheduleStoreTest, EveryFieldRoundTrips) {
  ScheduleRecord r = record("full");
  r.expression = "cron(0 12 * * ? *)";
  r.timezone = "Europe/Berlin";
  r.start_s = 0;  // a date of 0 is a date, not "none"
  r.end_s = 5000;
  r.state = "DISABLED";
  r.description = "all of it";
  r.flexible_mode = "FLEXIBLE";
  r.flexible_window_min = 30;
  r.target.input = R"({"a":[1,2]})";
  r.target.max_retry_attempts = 0;
  r.target.max_event_age_s = 60;
  r.target.dead_letter_arn = "arn:aws:lambda:us-east-1:000000000000:function:dlq";
  r.action_after_completion = "DELETE";
  r.client_token = "tok";
  r.kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/k";
  r.last_fired_s = 4000;
  ASSERT_TRUE(store_->create(r).ok());
  EXPECT_EQ(*store_->get("full"), r);
  ScheduleRecord bare = record("bare");
  ASSERT_TRUE(store_->create(bare).ok());
  EXPECT_EQ(*store_->get("bare"), bare);
  EXPECT_EQ(store_->get("bare")->start_s, std::nullopt);
  EXPECT_EQ(store_->create(bare).error().code, EEXIST);
  EXPECT_EQ(store_->get("missing").error().code, ENOENT);
}

TEST_F(ScheduleStoreTest, ListsInNameOrderWithFilters) {
  for (const char* name : {"b", "a_x", "abc", "a-y", "a"}) {
    ASSERT_TRUE(store_->create(record(name)).ok());
  }
  ScheduleRecord off = record("a-off");
  off.state = "DISABLED";
  ASSERT_TRUE(store_->create(off).ok());
  EXPECT_EQ(names(""), (std::vector<std::string>{"a", "a-off", "a-y", "a_x", "abc", "b"}));
  EXPECT_EQ(names("a_"), std::vector<std::string>{"a_x"});  // '_' is no wildcard
  EXPECT_EQ(names("a-"), (std::vector<std::string>{"a-off", "a-y"}));
  EXPECT_EQ(names("", "DISABLED"), std::vector<std::string>{"a-off"});
  EXPECT_EQ(names("", "", "a-y", 2), (std::vector<std::string>{"a_x", "abc"}));
  std::vector<std::string> enabled;
  auto listed = store_->enabled();
  ASSERT_TRUE(listed.ok());
  for (const ScheduleRecord& r : *listed) enabled.push_back(r.name);
  EXPECT_EQ(enabled, (std::vector<std::string>{"a", "a-y", "a_x", "abc", "b"}));
}

TEST_F(ScheduleStoreTest, UpdateReplacesWhatTheUserGaveAndKeepsTheBookkeeping) {
  ScheduleRecord r = record("changing");
  r.description = "old";
  r.last_fired_s = 1500;
  ASSERT_TRUE(store_->create(r).ok());
  ScheduleRecord replacement = record("changing");
  replacement.expression = "rate(2 hours)";
  replacement.created_s = 0;     // ignored: the creation stays
  replacement.last_fired_s = 0;  // ignored: the runner's progress stays
  replacement.modified_s = 2000;
  auto updated = store_->update(replacement);
  ASSERT_TRUE(updated.ok()) << updated.error().message();
  EXPECT_EQ(updated->expression, "rate(2 hours)");
  EXPECT_EQ(updated->description, "");
  EXPECT_EQ(updated->created_s, 1000);
  EXPECT_EQ(updated->modified_s, 2000);
  EXPECT_EQ(updated->last_fired_s, 1500);
  EXPECT_EQ(updated->revision, 1);
  EXPECT_EQ(*store_->get("changing"), *updated);
  EXPECT_EQ(store_->update(record("missing")).error().code, ENOENT);
}

TEST_F(ScheduleStoreTest, RemovalAndTheRunnersProgress) {
  ASSERT_TRUE(store_->create(record("x")).ok());
  ASSERT_TRUE(store_->set_last_fired("x", 1234).ok());
  EXPECT_EQ(store_->get("x")->last_fired_s, 1234);
  EXPECT_TRUE(store_->set_last_fired("gone", 1).ok());  // deleted meanwhile: fine
  ASSERT_TRUE(store_->update(record("x")).ok());        // revision 1 now
  EXPECT_FALSE(*store_->remove_at_revision("x", 0));
  EXPECT_TRUE(store_->get("x").ok());
  EXPECT_TRUE(*store_->remove_at_revision("x", 1));
  EXPECT_EQ(store_->get("x").error().code, ENOENT);
  ASSERT_TRUE(store_->create(record("y")).ok());
  EXPECT_EQ(store_->remove("y")->name, "y");
  EXPECT_EQ(store_->remove("y").error().code, ENOENT);
}

TEST_F(ScheduleStoreTest, SharesTheFileWithFunctionStoreAndLeavesUserVersionAlone) {
  ASSERT_TRUE(store_->create(record("kept")).ok());
  const int64_t group_created = store_->default_group_created_s();
  EXPECT_GT(group_created, 0);
  {
    auto db = Database::open(path_);
    ASSERT_TRUE(db.ok());
    auto version = db->prepare("PRAGMA user_version");
    ASSERT_TRUE(version.ok());
    ASSERT_TRUE(*version->step());
    EXPECT_EQ(version->integer(0), 0);  // FunctionStore's to set
  }
  auto functions = FunctionStore::open(path_);
  ASSERT_TRUE(functions.ok()) << functions.error().message();
  store_.reset();
  auto again = ScheduleStore::open(path_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->get("kept").ok());
  EXPECT_EQ(again->default_group_created_s(), group_created);
}

}  // namespace
}  // namespace ember::host

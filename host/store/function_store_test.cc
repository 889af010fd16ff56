// Tests for FunctionStore: create, get, list pages, update, remove, and a reopen (restart).
#include "host/store/function_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <filesystem>

namespace ember::host {
namespace {

class FunctionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-store-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static FunctionRecord record(const std::string& name) {
    FunctionRecord r;
    r.name = name;
    r.runtime = "python3.11";
    r.handler = "lambda_function.lambda_handler";
    r.role = "arn:aws:iam::123456789012:role/test";
    r.description = "a test";
    r.memory_mb = 256;
    r.timeout_s = 10;
    r.ephemeral_mb = 1024;
    r.environment = {{"A", "1"}, {"QUOTE", "\"x\""}};
    r.code_sha256_hex = std::string(64, 'a');
    r.code_size = 1234;
    r.last_modified_ms = 1800000000123;
    r.revision_id = "rev-1";
    return r;
  }

  std::string db_path() const { return dir_ + "/functions.db"; }
  std::string dir_;
};

TEST_F(FunctionStoreTest, CreatesAndGetsEveryField) {
  auto store = FunctionStore::open(db_path());
  ASSERT_TRUE(store.ok()) << store.error().message();
  ASSERT_TRUE(store->create(record("alpha")).ok());
  auto got = store->get("alpha");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value(), record("alpha"));
}

TEST_F(FunctionStoreTest, TakenNameIsEexistAndMissingIsEnoent) {
  auto store = FunctionStore::open(db_path());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store->create(record("alpha")).ok());
  auto again = store->create(record("alpha"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EEXIST);
  EXPECT_EQ(store->get("beta").error().code, ENOENT);
  EXPECT_EQ(store->update(record("beta")).error().code, ENOENT);
  EXPECT_EQ(store->remove("beta").error().code, ENOENT);
}

TEST_F(FunctionStoreTest, ListsInNameOrderByPages) {
  auto store = FunctionStore::open(db_path());
  ASSERT_TRUE(store.ok());
  for (const char* name : {"c", "a", "e", "b", "d"}) ASSERT_TRUE(store->create(record(name)).ok());
  auto first = store->list("", 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].name, "a");
  EXPECT_EQ((*first)[1].name, "b");
  auto rest = store->list("b", 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_EQ((*rest)[0].name, "c");
  EXPECT_EQ((*rest)[2].name, "e");
}

TEST_F(FunctionStoreTest, UpdateReplacesAndRemoveReturnsTheRecord) {
  auto store = FunctionStore::open(db_path());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store->create(record("alpha")).ok());
  FunctionRecord changed = record("alpha");
  changed.memory_mb = 1024;
  changed.environment.clear();
  changed.code_sha256_hex = std::string(64, 'b');
  changed.revision_id = "rev-2";
  ASSERT_TRUE(store->update(changed).ok());
  EXPECT_EQ(store->get("alpha").value(), changed);
  auto hashes = store->code_in_use();
  ASSERT_TRUE(hashes.ok());
  EXPECT_EQ(*hashes, std::set<std::string>{std::string(64, 'b')});
  auto removed = store->remove("alpha");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed.value(), changed);
  EXPECT_FALSE(store->get("alpha").ok());
  EXPECT_TRUE(store->code_in_use()->empty());
}

TEST_F(FunctionStoreTest, FunctionsSurviveAReopen) {
  {
    auto store = FunctionStore::open(db_path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store->create(record("kept")).ok());
  }
  auto reopened = FunctionStore::open(db_path());
  ASSERT_TRUE(reopened.ok()) << reopened.error().message();
  auto got = reopened->get("kept");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value(), record("kept"));
}

TEST_F(FunctionStoreTest, RefusesADatabaseFromANewerEmberd) {
  {
    auto store = FunctionStore::open(db_path());
    ASSERT_TRUE(store.ok());
  }
  auto db = Database::open(db_path());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->exec("PRAGMA user_version = 99").ok());
  auto reopened = FunctionStore::open(db_path());
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.error().message().find("newer"), std::string::npos);
}

TEST(FunctionStore, OpenFailsForAnUnwritablePath) {
  auto store = FunctionStore::open("/proc/nonexistent/functions.db");
  EXPECT_FALSE(store.ok());
}

}  // namespace
}  // namespace ember::host

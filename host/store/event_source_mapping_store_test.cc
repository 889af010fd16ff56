// Tests for EventSourceMappingStore: round trips, conflicts, paging, status and removal.
#include "host/store/event_source_mapping_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <filesystem>

#include "host/store/function_store.h"

namespace ember::host {
namespace {

class EventSourceMappingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-esm-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    store_.reset();
    auto store = EventSourceMappingStore::open(dir_ + "/functions.db");
    ASSERT_TRUE(store.ok()) << store.error().message();
    store_.emplace(std::move(store).value());
  }

  static EventSourceMapping mapping(const std::string& uuid, const std::string& function,
                                    const std::string& arn) {
    EventSourceMapping m;
    m.uuid = uuid;
    m.function_name = function;
    m.event_source_arn = arn;
    auto source = parse_redis_arn(arn);
    EXPECT_TRUE(source.ok());
    if (source.ok()) m.source = source.value();
    m.last_modified_ms = 1700000000123;
    return m;
  }

  std::string dir_;
  std::optional<EventSourceMappingStore> store_;
};

constexpr char kStream[] = "arn:ember:redis:::default/stream/orders";
constexpr char kQueue[] = "arn:ember:redis:::default/queue/jobs/high";

TEST_F(EventSourceMappingStoreTest, KeepsEveryFieldAcrossARestart) {
  EventSourceMapping m = mapping("u-1", "f", kQueue);
  m.enabled = false;
  m.batch_size = 500;
  m.max_batching_window_s = 7;
  m.report_batch_item_failures = true;
  m.on_failure = "arn:ember:redis:::default/stream/dead";
  m.max_concurrency = 12;
  m.filter_patterns = {R"({"body": {"kind": ["a"]}})", "{}"};
  ASSERT_TRUE(store_->create(m).ok());

  EventSourceMapping s = mapping("u-2", "f", kStream);
  s.starting_position = "AT_TIMESTAMP";
  s.starting_position_timestamp_ms = 1600000000500;
  s.max_retry_attempts = 3;
  s.max_record_age_s = 3600;
  s.bisect_batch_on_function_error = true;
  ASSERT_TRUE(store_->create(s).ok());

  reopen();
  auto got = store_->get("u-1");
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_EQ(got->function_name, "f");
  EXPECT_EQ(got->event_source_arn, kQueue);
  EXPECT_TRUE(got->source.queue);
  EXPECT_EQ(got->source.server, "default");
  EXPECT_EQ(got->source.key, "jobs/high");
  EXPECT_FALSE(got->enabled);
  EXPECT_EQ(got->state, "Creating");
  EXPECT_EQ(got->state_transition_reason, "USER_INITIATED");
  EXPECT_EQ(got->last_processing_result, "No records processed");
  EXPECT_EQ(got->batch_size, 500);
  EXPECT_EQ(got->max_batching_window_s, 7);
  EXPECT_TRUE(got->report_batch_item_failures);
  EXPECT_EQ(got->on_failure, "arn:ember:redis:::default/stream/dead");
  EXPECT_EQ(got->max_concurrency, 12);
  EXPECT_EQ(got->filter_patterns, m.filter_patterns);
  EXPECT_EQ(got->last_modified_ms, 1700000000123);

  auto stream = store_->get("u-2");
  ASSERT_TRUE(stream.ok());
  EXPECT_FALSE(stream->source.queue);
  EXPECT_EQ(stream->starting_position, "AT_TIMESTAMP");
  EXPECT_EQ(stream->starting_position_timestamp_ms, 1600000000500);
  EXPECT_EQ(stream->max_retry_attempts, 3);
  EXPECT_EQ(stream->max_record_age_s, 3600);
  EXPECT_TRUE(stream->bisect_batch_on_function_error);
  EXPECT_GT(stream->sequence, got->sequence);
  EXPECT_EQ(store_->get("nope").error().code, ENOENT);
}

TEST_F(EventSourceMappingStoreTest, OneMappingPerFunctionAndSource) {
  ASSERT_TRUE(store_->create(mapping("u-1", "f", kStream)).ok());
  EXPECT_EQ(store_->create(mapping("u-2", "f", kStream)).error().code, EEXIST);
  EXPECT_EQ(store_->create(mapping("u-1", "g", kQueue)).error().code,
            EEXIST);  // the UUID
  ASSERT_TRUE(store_->create(mapping("u-3", "g", kStream)).ok());
  // Moving u-3 onto f's source collides; the row is left as it was.
  EXPECT_EQ(store_->update(mapping("u-3", "f", kStream)).error().code, EEXIST);
  EXPECT_EQ(store_->get("u-3")->function_name, "g");
  EXPECT_EQ(store_->update(mapping("u-9", "f", kQueue)).error().code, ENOENT);
  EventSourceMapping changed = mapping("u-3", "g", kStream);
  changed.batch_size = 42;
  ASSERT_TRUE(store_->update(changed).ok());
  EXPECT_EQ(store_->get("u-3")->batch_size, 42);
}

TEST_F(EventSourceMappingStoreTest, ListsFiltersAndPages) {
  ASSERT_TRUE(store_->create(mapping("c", "f", kStream)).ok());
  ASSERT_TRUE(store_->create(mapping("a", "f", kQueue)).ok());
  ASSERT_TRUE(store_->create(mapping("b", "g", kStream)).ok());
  auto all = store_->list({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].uuid, "c");  // creation order, not UUID order
  EXPECT_EQ((*all)[2].uuid, "b");
  auto of_f = store_->list({.function_name = "f"});
  ASSERT_EQ(of_f->size(), 2u);
  auto of_stream = store_->list({.event_source_arn = kStream});
  ASSERT_EQ(of_stream->size(), 2u);
  auto both = store_->list({.function_name = "g", .event_source_arn = kStream});
  ASSERT_EQ(both->size(), 1u);
  EXPECT_EQ(both->front().uuid, "b");
  auto first = store_->list({.limit = 2});
  ASSERT_EQ(first->size(), 2u);
  auto rest = store_->list({.after_sequence = first->back().sequence, .limit = 2});
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(rest->front().uuid, "b");
}

TEST_F(EventSourceMappingStoreTest, StatusRemoveAndRemoveFunction) {
  ASSERT_TRUE(store_->create(mapping("u-1", "f", kStream)).ok());
  ASSERT_TRUE(store_->create(mapping("u-2", "f", kQueue)).ok());
  ASSERT_TRUE(store_->create(mapping("u-3", "g", kQueue)).ok());
  ASSERT_TRUE(store_->set_status("u-1", {.state = "Enabled"}).ok());
  auto got = store_->get("u-1");
  EXPECT_EQ(got->state, "Enabled");
  EXPECT_EQ(got->state_transition_reason, "USER_INITIATED");  // unset: kept
  EXPECT_EQ(got->last_processing_result, "No records processed");
  EXPECT_EQ(got->last_modified_ms, 1700000000123);
  ASSERT_TRUE(store_
                  ->set_status(
                      "u-1", {.state_transition_reason = "PROBLEM", .last_processing_result = "OK"})
                  .ok());
  got = store_->get("u-1");
  EXPECT_EQ(got->state, "Enabled");
  EXPECT_EQ(got->state_transition_reason, "PROBLEM");
  EXPECT_EQ(got->last_processing_result, "OK");
  EXPECT_EQ(store_->set_status("nope", {.state = "Enabled"}).error().code, ENOENT);

  auto removed = store_->remove("u-3");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->function_name, "g");
  EXPECT_TRUE(removed->source.queue);
  EXPECT_EQ(store_->remove("u-3").error().code, ENOENT);
  auto dropped = store_->remove_function("f");
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(dropped.value(), 2u);
  EXPECT_TRUE(store_->list({})->empty());
}

TEST_F(EventSourceMappingStoreTest, SharesTheFileWithTheFunctionStore) {
  auto functions = FunctionStore::open(dir_ + "/functions.db");
  ASSERT_TRUE(functions.ok()) << functions.error().message();
  ASSERT_TRUE(store_->create(mapping("u-1", "f", kStream)).ok());
  reopen();
  EXPECT_TRUE(store_->get("u-1").ok());
  auto again = FunctionStore::open(dir_ + "/functions.db");
  EXPECT_TRUE(again.ok()) << again.error().message();
}

}  // namespace
}  // namespace ember::host

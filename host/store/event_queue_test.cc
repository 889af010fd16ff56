// Tests for EventQueue: round trip, claim order, restarts, group commit, history, wake-ups.
#include "host/store/event_queue.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <latch>
#include <thread>

namespace ember::host {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

int64_t unix_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - since).count();
}

class EventQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-queue-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    reopen();
  }
  void TearDown() override {
    queue_.reset();
    std::filesystem::remove_all(dir_);
  }

  void reopen() {
    queue_.reset();
    auto opened = EventQueue::open(db_path());
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    queue_ = std::move(opened).value();
  }

  static NewEvent event(const std::string& function, const std::string& request_id,
                        int64_t accepted_ms) {
    NewEvent e;
    e.request_id = request_id;
    e.function_name = function;
    e.payload = R"({"key":"value","n":1})";
    e.accepted_ms = accepted_ms;
    e.source = "invoke";
    return e;
  }

  int64_t add(const NewEvent& e) {
    auto id = queue_->enqueue(e);
    EXPECT_TRUE(id.ok()) << id.error().message();
    return id.ok() ? *id : -1;
  }

  std::vector<QueuedEvent> claim(int64_t now_ms, size_t limit = 100) {
    auto claimed = queue_->claim(now_ms, limit);
    EXPECT_TRUE(claimed.ok()) << claimed.error().message();
    return claimed.ok() ? *claimed : std::vector<QueuedEvent>{};
  }

  std::string db_path() const { return dir_ + "/events.db"; }
  std::string dir_;
  std::unique_ptr<EventQueue> queue_;
};

TEST_F(EventQueueTest, RoundTripKeepsEveryField) {
  NewEvent e = event("alpha", "req-1", 1000);
  e.max_retries = 1;
  e.max_event_age_s = 600;
  e.dead_letter_arn = "arn:aws:sqs:us-east-1:123456789012:dlq";
  e.source = "schedule:nightly";
  e.payload = std::string("{\"text\":\"quote \\\" and \xc3\xa9\"}");
  const int64_t id = add(e);

  auto first = claim(1000);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(static_cast<const NewEvent&>(first[0]), e);
  EXPECT_EQ(first[0].id, id);
  EXPECT_EQ(first[0].attempts, 0);
  EXPECT_EQ(first[0].not_before_ms, 1000);  // due when accepted
  EXPECT_EQ(first[0].backoff_ms, 0);
  EXPECT_EQ(first[0].last_error, "");

  QueuedEvent retry = first[0];
  retry.attempts = 2;
  retry.not_before_ms = 5000;
  retry.backoff_ms = 250;
  retry.last_error = R"({"errorType":"Boom"})";
  ASSERT_TRUE(queue_->release(retry).ok());
  EXPECT_TRUE(claim(4999).empty());
  auto second = claim(5000);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(static_cast<const NewEvent&>(second[0]), e);
  EXPECT_EQ(second[0].id, id);
  EXPECT_EQ(second[0].attempts, 2);
  EXPECT_EQ(second[0].not_before_ms, 5000);
  EXPECT_EQ(second[0].backoff_ms, 250);
  EXPECT_EQ(second[0].last_error, retry.last_error);

  ASSERT_TRUE(queue_->finish(second[0], EventFate::kRetriesExhausted, "Boom", 6000).ok());
  EXPECT_TRUE(claim(1'000'000).empty());
  auto history = queue_->history("alpha", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0],
            (EventHistoryEntry{"req-1", EventFate::kRetriesExhausted, 2, 1000, 6000, "Boom"}));
  // finish() of an id no longer stored is fine.
  EXPECT_TRUE(queue_->finish(second[0], EventFate::kSucceeded, "", 7000).ok());
}

TEST_F(EventQueueTest, ClaimHonoursDueTimeOrderAndInFlight) {
  add(event("f", "late", 300));
  add(event("f", "early", 100));
  add(event("f", "middle", 200));
  add(event("f", "middle-2", 200));

  auto due = claim(150);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].request_id, "early");

  auto one = claim(1000, 1);  // "early" is in flight: skipped, not counted against the limit
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].request_id, "middle");

  auto rest = claim(1000);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].request_id, "middle-2");
  EXPECT_EQ(rest[1].request_id, "late");
  EXPECT_TRUE(claim(1000).empty());
  EXPECT_TRUE(claim(1000, 0).empty());

  ASSERT_TRUE(queue_->release(due[0]).ok());  // waiting again
  auto again = claim(1000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].request_id, "early");
}

TEST_F(EventQueueTest, ClaimedButUnfinishedEventsComeBackAfterReopen) {
  add(event("f", "a", 100));
  const int64_t b = add(event("f", "b", 200));
  add(event("f", "c", 300));
  auto claimed = claim(1000, 2);
  ASSERT_EQ(claimed.size(), 2u);
  QueuedEvent retry = claimed[1];
  retry.attempts = 1;
  retry.not_before_ms = 250;
  ASSERT_TRUE(queue_->release(retry).ok());
  ASSERT_TRUE(queue_->finish(claimed[0], EventFate::kSucceeded, "", 1000).ok());
  claimed = claim(1000, 1);  // "b" again, in flight when the process goes away
  ASSERT_EQ(claimed.size(), 1u);

  reopen();
  auto back = claim(1000);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].id, b);
  EXPECT_EQ(back[0].attempts, 1);
  EXPECT_EQ(back[0].not_before_ms, 250);
  EXPECT_EQ(back[1].request_id, "c");
  auto history = queue_->history("f", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].request_id, "a");
}

TEST_F(EventQueueTest, EnqueuedEventSurvivesSigkill) {
  queue_.reset();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto queue = EventQueue::open(db_path());
    if (!queue.ok() || !(*queue)->enqueue(event("f", "killed", 100)).ok()) ::_exit(1);
    ::raise(SIGKILL);  // no close, no checkpoint: only what enqueue() committed
    ::_exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  reopen();
  auto back = claim(1000);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].request_id, "killed");
}

TEST_F(EventQueueTest, ConcurrentEnqueuesShareCommits) {
  constexpr int kThreads = 32;
  std::latch start(kThreads);
  std::vector<int64_t> ids(kThreads, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto id = queue_->enqueue(event("f", "r" + std::to_string(i), 100));
      if (id.ok()) ids[i] = *id;
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads));
  EXPECT_FALSE(distinct.contains(-1));
  EXPECT_LT(queue_->commits(), static_cast<size_t>(kThreads));
  EXPECT_EQ(claim(1000).size(), static_cast<size_t>(kThreads));
}

// Another connection holds the write lock, so the first commit stalls in BEGIN IMMEDIATE and
// everyone arriving meanwhile must ride in the second one.
TEST_F(EventQueueTest, CallersDuringACommitShareTheNextOne) {
  auto blocker = Database::open(db_path());
  ASSERT_TRUE(blocker.ok());
  ASSERT_TRUE(blocker->exec("BEGIN IMMEDIATE").ok());
  constexpr int kThreads = 32;
  std::atomic<int> ok_count = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      if (queue_->enqueue(event("f", "r" + std::to_string(i), 100)).ok()) ++ok_count;
    });
  }
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(ok_count.load(), 0);  // nobody is told before the commit
  ASSERT_TRUE(blocker->exec("COMMIT").ok());
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok_count.load(), kThreads);
  EXPECT_LE(queue_->commits(), 3u);
  EXPECT_EQ(claim(1000).size(), static_cast<size_t>(kThreads));
}

// A trigger refuses one event: its whole group fails, none of it is stored, and the error
// names the database file.
TEST_F(EventQueueTest, FailedCommitFailsItsWholeGroup) {
  auto blocker = Database::open(db_path());
  ASSERT_TRUE(blocker.ok());
  ASSERT_TRUE(blocker
                  ->exec("BEGIN IMMEDIATE; CREATE TRIGGER refuse BEFORE INSERT ON events "
                         "WHEN NEW.request_id = 'bad' BEGIN SELECT RAISE(ABORT, "
                         "'refused'); "
                         "END;")
                  .ok());
  Result<int64_t> first = int64_t{-1};
  std::thread leader([&] { first = queue_->enqueue(event("f", "first", 100)); });
  std::this_thread::sleep_for(milliseconds(150));  // the leader now waits for the lock alone
  constexpr int kThreads = 6;
  std::vector<std::optional<Error>> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto id = queue_->enqueue(event("f", i == 3 ? "bad" : "good" + std::to_string(i), 100));
      if (!id.ok()) errors[i] = id.error();
    });
  }
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_TRUE(blocker->exec("COMMIT").ok());
  leader.join();
  for (auto& t : threads) t.join();

  ASSERT_TRUE(first.ok()) << first.error().message();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(errors[i].has_value()) << "event " << i << " was acknowledged";
    EXPECT_NE(errors[i]->message().find(db_path()), std::string::npos) << errors[i]->message();
    EXPECT_NE(errors[i]->message().find("refused"), std::string::npos) << errors[i]->message();
  }
  EXPECT_EQ(queue_->commits(), 2u);
  auto stored = claim(1000);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].request_id, "first");
}

TEST_F(EventQueueTest, HistoryKeepsTheNewestPerFunctionNewestFirst) {
  constexpr int kEvents = static_cast<int>(EventQueue::kHistoryPerFunction) + 5;
  for (int i = 0; i < kEvents; ++i) add(event("f", "r" + std::to_string(i), 100));
  for (int i = 0; i < 3; ++i) add(event("g", "g" + std::to_string(i), 100));
  for (const QueuedEvent& e : claim(1000, 1000)) {
    ASSERT_TRUE(queue_->finish(e, EventFate::kSucceeded, "", 2000 + e.id).ok());
  }
  auto f = queue_->history("f", 1000);
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->size(), EventQueue::kHistoryPerFunction);
  EXPECT_EQ(f->front().request_id, "r" + std::to_string(kEvents - 1));
  EXPECT_EQ(f->back().request_id, "r5");
  EXPECT_EQ(f->front().fate, EventFate::kSucceeded);
  auto g = queue_->history("g", 1000);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->size(), 3u);
  EXPECT_EQ(g->front().request_id, "g2");
  auto two = queue_->history("f", 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
}

TEST_F(EventQueueTest, DropFunctionRemovesWaitingEventsNotInFlight) {
  add(event("f", "running", 100));
  add(event("f", "waiting-1", 200));
  add(event("f", "waiting-2", 300));
  add(event("g", "other", 100));
  auto running = claim(150, 1);
  ASSERT_EQ(running.size(), 1u);

  auto dropped = queue_->drop_function("f");
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 2u);
  auto stats = queue_->stats("f", 1000);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->depth, 1u);
  EXPECT_EQ(stats->in_flight, 1u);
  auto history = queue_->history("f", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  for (const auto& entry : *history) {
    EXPECT_EQ(entry.fate, EventFate::kDropped);
    EXPECT_EQ(entry.detail, "function deleted");
  }
  EXPECT_EQ((*history)[0].request_id, "waiting-2");
  auto left = claim(1000);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].request_id, "other");
  EXPECT_TRUE(queue_->finish(running[0], EventFate::kSucceeded, "", 2000).ok());
  EXPECT_EQ(*queue_->drop_function("f"), 0u);
}

TEST_F(EventQueueTest, StatsCountDepthAgeInFlightAndRetries) {
  for (int i = 1; i <= 4; ++i) add(event("f", "r" + std::to_string(i), i * 1000));
  add(event("g", "other", 5000));  // another function's: neither claimed nor counted
  auto claimed = claim(3000, 3);   // r1 stays in flight
  ASSERT_EQ(claimed.size(), 3u);
  QueuedEvent retried = claimed[1];
  retried.attempts = 1;
  ASSERT_TRUE(queue_->release(retried).ok());
  QueuedEvent backed_off = claimed[2];
  backed_off.backoff_ms = 500;
  ASSERT_TRUE(queue_->release(backed_off).ok());

  auto stats = queue_->stats("f", 10000);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->depth, 4u);
  EXPECT_EQ(stats->oldest_age_ms, 9000);
  EXPECT_EQ(stats->in_flight, 1u);
  EXPECT_EQ(stats->waiting_retry, 2u);
  auto none = queue_->stats("nobody", 10000);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->depth, 0u);
  EXPECT_EQ(none->oldest_age_ms, 0);
}

TEST_F(EventQueueTest, WaitForWorkWakesOnEnqueueAndRelease) {
  const int64_t later = unix_ms() + 3'600'000;
  std::thread producer([&] {
    std::this_thread::sleep_for(milliseconds(100));
    add(event("f", "later", later));
  });
  auto start = Clock::now();
  queue_->wait_for_work(milliseconds(10'000));
  EXPECT_GE(elapsed_ms(start), 90);
  EXPECT_LT(elapsed_ms(start), 5000);
  producer.join();

  // An enqueue before the call is not missed; a release wakes too.
  add(event("f", "later-2", later));
  start = Clock::now();
  queue_->wait_for_work(milliseconds(10'000));
  EXPECT_LT(elapsed_ms(start), 1000);
  auto claimed = claim(later);
  ASSERT_EQ(claimed.size(), 2u);
  std::thread releaser([&] {
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_TRUE(queue_->release(claimed[0]).ok());
  });
  start = Clock::now();
  queue_->wait_for_work(milliseconds(10'000));
  EXPECT_GE(elapsed_ms(start), 90);
  EXPECT_LT(elapsed_ms(start), 5000);
  releaser.join();
}

TEST_F(EventQueueTest, WaitForWorkWakesWhenAnEventBecomesDue) {
  add(event("f", "soon", unix_ms() + 300));
  queue_->wait_for_work(milliseconds(0));  // takes the enqueue's wake-up
  const auto start = Clock::now();
  queue_->wait_for_work(milliseconds(10'000));
  EXPECT_GE(elapsed_ms(start), 250);
  EXPECT_LT(elapsed_ms(start), 5000);
}

TEST_F(EventQueueTest, WaitForWorkReturnsByLongestAndIgnoresInFlightEvents) {
  add(event("f", "due", 100));
  ASSERT_EQ(claim(unix_ms()).size(), 1u);  // due long ago, but in flight
  queue_->wait_for_work(milliseconds(0));
  const auto start = Clock::now();
  queue_->wait_for_work(milliseconds(150));
  EXPECT_GE(elapsed_ms(start), 140);
  EXPECT_LT(elapsed_ms(start), 5000);
}

TEST_F(EventQueueTest, WakeAllWakesEveryWaiter) {
  queue_->wait_for_work(milliseconds(0));
  std::vector<std::thread> waiters;
  std::atomic<int> woken = 0;
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&] {
      queue_->wait_for_work(milliseconds(20'000));
      ++woken;
    });
  }
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(woken.load(), 0);
  const auto start = Clock::now();
  queue_->wake_all();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(woken.load(), 3);
  EXPECT_LT(elapsed_ms(start), 5000);
}

TEST(EventQueueFateName, NamesEachFateAsLambdaDoes) {
  EXPECT_STREQ(event_fate_name(EventFate::kSucceeded), "Success");
  EXPECT_STREQ(event_fate_name(EventFate::kRetriesExhausted), "RetriesExhausted");
  EXPECT_STREQ(event_fate_name(EventFate::kEventAgeExceeded), "EventAgeExceeded");
  EXPECT_STREQ(event_fate_name(EventFate::kDropped), "Dropped");
}

}  // namespace
}  // namespace ember::host

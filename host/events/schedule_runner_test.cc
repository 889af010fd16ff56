// Tests for the schedule runner with a fake clock: when schedules fire, what they enqueue,
// one-time and completed schedules, disabled ones, failed enqueues and the catch-up rule.
#include "host/events/schedule_runner.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "host/events/civil_time.h"

namespace ember::host {
namespace {

using namespace std::chrono_literals;

constexpr char kFunctionArn[] = "arn:aws:lambda:us-east-1:000000000000:function:fn";

// Unix seconds of a UTC date and time.
int64_t utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return civil::days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

const int64_t kT0 = utc(2026, 3, 2, 9, 0, 0);  // a Monday, 10:00 in Berlin

class ScheduleRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-schedule-runner-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = ScheduleStore::open(dir_ + "/functions.db");
    ASSERT_TRUE(store.ok()) << store.error().message();
    store_.emplace(std::move(store).value());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  ScheduleRecord schedule(const std::string& name, const std::string& expression) const {
    ScheduleRecord r;
    r.name = name;
    r.expression = expression;
    r.target.arn = kFunctionArn;
    r.target.role_arn = "arn:aws:iam::123456789012:role/r";
    r.created_s = r.modified_s = now_;
    return r;
  }
  void add(const ScheduleRecord& r) { ASSERT_TRUE(store_->create(r).ok()); }

  // A runner on the fake clock (constructed "at" now_, which is when emberd started).
  std::unique_ptr<ScheduleRunner> runner() {
    return std::make_unique<ScheduleRunner>(
        *store_,
        [this](const NewEvent& event) -> Status {
          std::lock_guard lock(mu_);
          if (fail_) return make_error("enqueue event", "disk full");
          events_.push_back(event);
          return {};
        },
        ScheduleRunnerOptions{.clock = [this] { return now_.load(); }});
  }

  // The scheduled times (Unix s) of the events enqueued so far.
  std::vector<int64_t> fired() {
    std::lock_guard lock(mu_);
    std::vector<int64_t> times;
    for (const NewEvent& e : events_) times.push_back(e.accepted_ms / 1000);
    return times;
  }
  int64_t last_fired(const std::string& name) { return store_->get(name)->last_fired_s; }

  std::string dir_;
  std::optional<ScheduleStore> store_;
  std::atomic<int64_t> now_{kT0};
  std::mutex mu_;
  bool fail_ = false;             // guarded by mu_
  std::vector<NewEvent> events_;  // guarded by mu_
};

TEST_F(ScheduleRunnerTest, RateFiresEveryPeriodAfterCreation) {
  add(schedule("every5", "rate(5 minutes)"));
  auto r = runner();
  EXPECT_EQ(r->run_pass(), kT0 + 300);
  now_ = kT0 + 299;
  EXPECT_EQ(r->run_pass(), kT0 + 300);
  EXPECT_TRUE(fired().empty());
  now_ = kT0 + 300;
  EXPECT_EQ(r->run_pass(), kT0 + 600);
  EXPECT_EQ(r->run_pass(), kT0 + 600);  // not twice
  EXPECT_EQ(fired(), std::vector<int64_t>{kT0 + 300});
  EXPECT_EQ(last_fired("every5"), kT0 + 300);
  // Two due at once while running (a slow pass): both fire, in order.
  now_ = kT0 + 900;
  r->run_pass();
  EXPECT_EQ(fired(), (std::vector<int64_t>{kT0 + 300, kT0 + 600, kT0 + 900}));
  EXPECT_EQ(last_fired("every5"), kT0 + 900);
}

TEST_F(ScheduleRunnerTest, TheEventCarriesTheTarget) {
  ScheduleRecord s = schedule("with-input", "rate(1 minute)");
  s.target.input = R"({"job":"report"})";
  s.target.max_retry_attempts = 3;
  s.target.max_event_age_s = 600;
  s.target.dead_letter_arn = "arn:aws:lambda:us-east-1:000000000000:function:failures";
  add(s);
  add(schedule("no-input", "rate(1 minute)"));
  auto r = runner();
  now_ = kT0 + 60;
  r->run_pass();
  now_ = kT0 + 120;
  r->run_pass();
  std::lock_guard lock(mu_);
  ASSERT_EQ(events_.size(), 4u);
  // A pass goes through the schedules in name order.
  const NewEvent& e = events_[1];
  EXPECT_EQ(e.function_name, "fn");
  EXPECT_EQ(e.payload, R"({"job":"report"})");
  EXPECT_EQ(e.accepted_ms, (kT0 + 60) * 1000);
  EXPECT_EQ(e.max_retries, -1);  // the function's own EventInvokeConfig
  EXPECT_EQ(e.max_event_age_s, 600);
  EXPECT_EQ(e.dead_letter_arn, "arn:aws:lambda:us-east-1:000000000000:function:failures");
  EXPECT_EQ(e.source, "schedule:with-input");
  EXPECT_EQ(e.request_id.size(), 36u);
  const NewEvent& plain = events_[0];
  EXPECT_EQ(plain.source, "schedule:no-input");
  EXPECT_EQ(plain.payload, "{}");
  EXPECT_EQ(plain.max_retries, -1);
  EXPECT_EQ(plain.max_event_age_s, 86400);
  EXPECT_EQ(plain.dead_letter_arn, "");
  std::set<std::string> ids;
  for (const NewEvent& event : events_) ids.insert(event.request_id);
  EXPECT_EQ(ids.size(), 4u);  // a new request id for every firing
}

TEST_F(ScheduleRunnerTest, CronFiresAtWallClockTimesInItsZone) {
  ScheduleRecord s = schedule("berlin", "cron(30 9 * * ? *)");
  s.timezone = "Europe/Berlin";
  add(s);
  auto r = runner();
  const int64_t first = utc(2026, 3, 3, 8, 30);  // 09:30 CET
  EXPECT_EQ(r->run_pass(), first);
  now_ = first;
  EXPECT_EQ(r->run_pass(), utc(2026, 3, 4, 8, 30));
  EXPECT_EQ(fired(), std::vector<int64_t>{first});
}

TEST_F(ScheduleRunnerTest, AtFiresExactlyOnceAcrossRestarts) {
  add(schedule("once", "at(2026-03-02T09:10:00)"));
  auto r = runner();
  EXPECT_EQ(r->run_pass(), kT0 + 600);
  now_ = kT0 + 600;
  EXPECT_EQ(r->run_pass(), std::nullopt);
  now_ = kT0 + 3600;
  EXPECT_EQ(r->run_pass(), std::nullopt);
  r.reset();
  r = runner();  // a restart after the firing
  now_ = kT0 + 7200;
  r->run_pass();
  EXPECT_EQ(fired(), std::vector<int64_t>{kT0 + 600});
  EXPECT_TRUE(store_->get("once").ok());  // ActionAfterCompletion NONE keeps it
}

TEST_F(ScheduleRunnerTest, AtWithDeleteAfterCompletionIsDeletedOnceFired) {
  ScheduleRecord s = schedule("once-then-gone", "at(2026-03-02T09:10:00)");
  s.action_after_completion = "DELETE";
  add(s);
  auto r = runner();
  r->run_pass();
  EXPECT_TRUE(store_->get("once-then-gone").ok());
  now_ = kT0 + 600;
  r->run_pass();
  EXPECT_EQ(fired(), std::vector<int64_t>{kT0 + 600});
  EXPECT_EQ(store_->get("once-then-gone").error().code, ENOENT);
}

TEST_F(ScheduleRunnerTest, StartAndEndDatesBoundARecurringSchedule) {
  ScheduleRecord s = schedule("bounded", "rate(10 minutes)");
  s.start_s = kT0 + 3600 + 30;
  s.end_s = kT0 + 3600 + 30 + 1200;  // before which it may fire: twice
  s.action_after_completion = "DELETE";
  add(s);
  auto r = runner();
  EXPECT_EQ(r->run_pass(), *s.start_s);  // a rate counts from StartDate
  now_ = *s.start_s;
  EXPECT_EQ(r->run_pass(), *s.start_s + 600);
  EXPECT_TRUE(store_->get("bounded").ok());
  now_ = *s.start_s + 600;
  EXPECT_EQ(r->run_pass(), std::nullopt);  // the next would be at EndDate: completed
  EXPECT_EQ(fired(), (std::vector<int64_t>{*s.start_s, *s.start_s + 600}));
  EXPECT_EQ(store_->get("bounded").error().code, ENOENT);
}

TEST_F(ScheduleRunnerTest, DisabledSchedulesDoNotFire) {
  ScheduleRecord s = schedule("off", "rate(1 minute)");
  s.state = "DISABLED";
  add(s);
  auto r = runner();
  now_ = kT0 + 3600;
  EXPECT_EQ(r->run_pass(), std::nullopt);
  EXPECT_TRUE(fired().empty());
  // Enabled again by an update: its past is not owed, the next minute is.
  s.state = "ENABLED";
  s.modified_s = now_;
  ASSERT_TRUE(store_->update(s).ok());
  EXPECT_EQ(r->run_pass(), kT0 + 3660);
  EXPECT_TRUE(fired().empty());
  now_ = kT0 + 3660;
  r->run_pass();
  EXPECT_EQ(fired(), std::vector<int64_t>{kT0 + 3660});
}

TEST_F(ScheduleRunnerTest, OneCatchUpFiringForFiringsMissedWhileDown) {
  add(schedule("minutely", "rate(1 minute)"));
  ASSERT_TRUE(store_->set_last_fired("minutely", kT0 + 60).ok());
  now_ = kT0 + 3600 + 30;  // emberd comes back an hour later
  auto r = runner();
  EXPECT_EQ(r->run_pass(), kT0 + 3660);
  EXPECT_EQ(fired(), std::vector<int64_t>{kT0 + 3600});  // the latest missed one only
  EXPECT_EQ(last_fired("minutely"), kT0 + 3600);
  now_ = kT0 + 3660;
  r->run_pass();
  EXPECT_EQ(fired(), (std::vector<int64_t>{kT0 + 3600, kT0 + 3660}));
}

TEST_F(ScheduleRunnerTest, MissedFiringsOlderThanTheirMaximumAgeAreSkipped) {
  ScheduleRecord s = schedule("hourly", "rate(1 hour)");
  s.target.max_event_age_s = 60;
  add(s);
  now_ = kT0 + 2 * 3600 + 1800;  // the latest missed firing is 30 minutes old
  auto r = runner();
  EXPECT_EQ(r->run_pass(), kT0 + 3 * 3600);
  EXPECT_TRUE(fired().empty());
  EXPECT_GE(last_fired("hourly"), kT0 + 2 * 3600);
  now_ = kT0 + 3 * 3600;
  r->run_pass();
  EXPECT_EQ(fired(), std::vector<int64_t>{kT0 + 3 * 3600});
}

TEST_F(ScheduleRunnerTest, ALongDowntimeStillCatchesUpOnceAndQuickly) {
  add(schedule("minutely", "rate(1 minute)"));
  now_ = kT0 + 400 * 86400 + 30;  // 576,000 missed firings
  const auto started = std::chrono::steady_clock::now();
  auto r = runner();
  r->run_pass();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(fired(), std::vector<int64_t>{kT0 + 400 * 86400});
}

TEST_F(ScheduleRunnerTest, AFailedEnqueueIsRetriedNotDropped) {
  add(schedule("every5", "rate(5 minutes)"));
  auto r = runner();
  now_ = kT0 + 300;
  fail_ = true;
  EXPECT_EQ(r->run_pass(), kT0 + 305);  // retry_delay's 5 s
  EXPECT_TRUE(fired().empty());
  EXPECT_EQ(last_fired("every5"), 0);
  now_ = kT0 + 305;
  fail_ = false;
  r->run_pass();
  EXPECT_EQ(fired(), std::vector<int64_t>{kT0 + 300});  // the original firing's time
}

TEST_F(ScheduleRunnerTest, AFailedCatchUpIsRetried) {
  add(schedule("minutely", "rate(1 minute)"));
  now_ = kT0 + 600 + 30;
  auto r = runner();
  fail_ = true;
  r->run_pass();
  EXPECT_TRUE(fired().empty());
  fail_ = false;
  now_ = kT0 + 600 + 35;
  r->run_pass();
  EXPECT_EQ(fired(), std::vector<int64_t>{kT0 + 600});
}

TEST_F(ScheduleRunnerTest, FlexibleFiringsLandWithinTheirWindowInOrder) {
  ScheduleRecord s = schedule("flexible", "rate(1 hour)");
  s.flexible_mode = "FLEXIBLE";
  s.flexible_window_min = 15;
  add(s);
  const auto expression = *ScheduleExpression::parse(s.expression);
  std::set<int64_t> offsets;
  for (int k = 1; k <= 10; ++k) {
    auto f = ScheduleRunner::next_firing(s, expression, TimeZone::utc(), kT0 + (k - 1) * 3600);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->scheduled_s, kT0 + k * 3600);
    EXPECT_GE(f->fire_s, f->scheduled_s);
    EXPECT_LT(f->fire_s, f->scheduled_s + 15 * 60);
    offsets.insert(f->fire_s - f->scheduled_s);
  }
  EXPECT_GT(offsets.size(), 5u);  // spread over the window, not one fixed delay

  // A window longer than the period still ends before the next scheduled time.
  ScheduleRecord fast = schedule("fast", "rate(1 minute)");
  fast.flexible_mode = "FLEXIBLE";
  fast.flexible_window_min = 10;
  const auto minutely = *ScheduleExpression::parse(fast.expression);
  for (int k = 1; k <= 20; ++k) {
    auto f = ScheduleRunner::next_firing(fast, minutely, TimeZone::utc(), kT0 + (k - 1) * 60);
    ASSERT_TRUE(f);
    EXPECT_LT(f->fire_s, f->scheduled_s + 60);
  }

  auto r = runner();
  const auto first = ScheduleRunner::next_firing(s, expression, TimeZone::utc(), kT0);
  EXPECT_EQ(r->run_pass(), first->fire_s);
  now_ = first->fire_s - 1;
  r->run_pass();
  EXPECT_TRUE(fired().empty());
  now_ = first->fire_s;
  r->run_pass();
  EXPECT_EQ(fired(), std::vector<int64_t>{first->fire_s});
}

TEST_F(ScheduleRunnerTest, TheThreadPicksUpChangesAtOnce) {
  auto r = runner();
  r->start();
  add(schedule("live", "rate(1 minute)"));
  r->changed();
  now_ = kT0 + 60;
  r->changed();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (fired().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(fired(), std::vector<int64_t>{kT0 + 60});
  r.reset();  // stops and joins the thread
}

TEST_F(ScheduleRunnerTest, FiringsGoIntoTheEventQueue) {
  auto queue = EventQueue::open(dir_ + "/events.db");
  ASSERT_TRUE(queue.ok()) << queue.error().message();
  ScheduleRecord s = schedule("queued", "rate(1 minute)");
  s.target.input = R"({"n":1})";
  add(s);
  ScheduleRunner r(*store_, **queue,
                   ScheduleRunnerOptions{.clock = [this] { return now_.load(); }});
  now_ = kT0 + 60;
  r.run_pass();
  auto claimed = (*queue)->claim((kT0 + 61) * 1000, 10);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message();
  ASSERT_EQ(claimed->size(), 1u);
  const QueuedEvent& e = claimed->front();
  EXPECT_EQ(e.function_name, "fn");
  EXPECT_EQ(e.payload, R"({"n":1})");
  EXPECT_EQ(e.accepted_ms, (kT0 + 60) * 1000);
  EXPECT_EQ(e.source, "schedule:queued");
}

}  // namespace
}  // namespace ember::host

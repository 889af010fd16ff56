// ScheduleRunner: the thread that fires ENABLED schedules into the async event queue.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/result.h"
#include "host/events/schedule_expression.h"
#include "host/store/event_queue.h"
#include "host/store/schedule_store.h"

namespace ember::host {

struct ScheduleRunnerOptions {
  // Unix seconds now; empty: the system clock. Tests pass a fake one.
  std::function<int64_t()> clock;
  // After a failed enqueue (disk full), the firing is tried again this much later.
  std::chrono::milliseconds retry_delay{5000};
  // The longest the thread sleeps between passes, whatever is due (a clock step, a lost
  // wake-up, a schedule changed behind the store's back).
  std::chrono::milliseconds longest_sleep{60'000};
};

// One firing of a schedule: its scheduled time and, with a FLEXIBLE window, the moment
// within the window it is enqueued (the scheduled time when the window is OFF).
struct ScheduleFiring {
  int64_t scheduled_s = 0;
  int64_t fire_s = 0;
  bool operator==(const ScheduleFiring&) const = default;
};

// Each ENABLED schedule fires at every time its expression gives within [StartDate, EndDate]
// (at() ignores both) that is after its last modification, as an asynchronous invocation:
// NewEvent{random request id, the Target's function, Target.Input or "{}", accepted at the
// firing's time, the RetryPolicy's age and attempts, the DeadLetterConfig, "schedule:<name>"}.
// After a firing its scheduled time is stored as last_fired_s. A schedule with no firing
// left (at() fired, EndDate passed) and ActionAfterCompletion DELETE is deleted.
//
// Firings due before the runner was constructed (emberd was down) are collapsed: only the
// latest is fired, and only if it is younger than MaximumEventAgeInSeconds; one stderr line
// says which. A firing whose enqueue fails stays due and is tried again after retry_delay.
// Firing times are monotonic: a FLEXIBLE firing lands before the next scheduled time.
class ScheduleRunner {
 public:
  // Puts one event into the queue; production passes EventQueue::enqueue.
  using Enqueue = std::function<Status(const NewEvent&)>;

  // The store and queue outlive the runner. Nothing runs until start().
  ScheduleRunner(ScheduleStore& store, EventQueue& queue, ScheduleRunnerOptions options = {});
  ScheduleRunner(ScheduleStore& store, Enqueue enqueue, ScheduleRunnerOptions options = {});
  // Stops and joins the thread.
  ~ScheduleRunner();
  ScheduleRunner(const ScheduleRunner&) = delete;
  ScheduleRunner& operator=(const ScheduleRunner&) = delete;

  // Starts the background thread, which runs a pass at once and then whenever something is
  // due or changed() is called.
  void start();
  // A schedule was created, updated or deleted: the thread runs a pass now.
  void changed();

  // One pass at clock() on the calling thread (serialized with the thread's): fires what is
  // due. Returns the next time (Unix s) anything will be due, nullopt when nothing will.
  std::optional<int64_t> run_pass();

  // The firing of `record` strictly after `after_s`, within its dates; nullopt when the
  // schedule has none left. `expression` and `zone` are the record's, parsed.
  static std::optional<ScheduleFiring> next_firing(const ScheduleRecord& record,
                                                   const ScheduleExpression& expression,
                                                   const TimeZone& zone, int64_t after_s);

 private:
  // A schedule's expression and zone parsed at `revision`, and where its firings stand.
  struct Compiled {
    int64_t revision = -1;
    ScheduleExpression expression;
    TimeZone zone;
    int64_t cursor_s = 0;  // firings at or before this are done
  };

  void loop();
  int64_t now() const;
  // Fires what is due of one schedule; the next time it is due, nullopt when never.
  std::optional<int64_t> process(const ScheduleRecord& record, Compiled& compiled, int64_t now);
  // Handles the firings missed while emberd was down (those due before started_s_), the
  // first of them being `first`: fires the latest if young enough, else skips them all.
  // False when the enqueue failed.
  bool catch_up(const ScheduleRecord& record, Compiled& compiled, ScheduleFiring first,
                int64_t now);
  Status fire(const ScheduleRecord& record, const ScheduleFiring& firing);
  // Moves the cursor past `scheduled_s` and stores it (a failure is logged: the in-memory
  // cursor still prevents a second firing).
  void advance(const ScheduleRecord& record, Compiled& compiled, int64_t scheduled_s);
  void complete(const ScheduleRecord& record);

  ScheduleStore& store_;
  Enqueue enqueue_;
  const ScheduleRunnerOptions options_;
  const int64_t started_s_;

  std::mutex pass_mu_;                        // one pass at a time
  std::map<std::string, Compiled> compiled_;  // guarded by pass_mu_
  // Schedules whose expression or zone no longer loads: revision + 1, so it is said once.
  std::map<std::string, int64_t> broken_;  // guarded by pass_mu_

  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by wake_mu_
  bool changed_ = false;   // guarded by wake_mu_
  std::thread thread_;
};

}  // namespace ember::host

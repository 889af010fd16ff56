// EventQueue: the events and history tables, group commit of enqueues, and wake-ups.
#include "host/store/event_queue.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <utility>

namespace ember::host {
namespace {

constexpr int kSchemaVersion = 1;

// AUTOINCREMENT: an id is never handed out twice, so a stale finish() cannot hit a newer event.
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT NOT NULL,
  function_name TEXT NOT NULL,
  payload TEXT NOT NULL,
  accepted_ms INTEGER NOT NULL,
  max_retries INTEGER NOT NULL,
  max_event_age_s INTEGER NOT NULL,
  dead_letter_arn TEXT NOT NULL,
  source TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  not_before_ms INTEGER NOT NULL,
  backoff_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_due ON events (not_before_ms);
CREATE INDEX IF NOT EXISTS events_by_function ON events (function_name);
CREATE TABLE IF NOT EXISTS history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  function_name TEXT NOT NULL,
  request_id TEXT NOT NULL,
  fate TEXT NOT NULL,          -- event_fate_name()
  attempts INTEGER NOT NULL,
  accepted_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL,
  detail TEXT NOT NULL,
  handler_started_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS history_by_function ON history (function_name, id);
)sql";

// The columns in the order row_to_event() reads them.
constexpr char kColumns[] =
    "id, request_id, function_name, payload, accepted_ms, max_retries, max_event_age_s, "
    "dead_letter_arn, source, attempts, not_before_ms, backoff_ms, last_error";

// Indexed by EventFate.
constexpr const char* kFateNames[] = {"Success", "RetriesExhausted", "EventAgeExceeded", "Dropped"};

QueuedEvent row_to_event(const Statement& row) {
  QueuedEvent e;
  e.id = row.integer(0);
  e.request_id = row.text(1);
  e.function_name = row.text(2);
  e.payload = row.text(3);
  e.accepted_ms = row.integer(4);
  e.max_retries = static_cast<int>(row.integer(5));
  e.max_event_age_s = row.integer(6);
  e.dead_letter_arn = row.text(7);
  e.source = row.text(8);
  e.attempts = static_cast<int>(row.integer(9));
  e.not_before_ms = row.integer(10);
  e.backoff_ms = row.integer(11);
  e.last_error = row.text(12);
  return e;
}

EventFate fate_from_name(const std::string& name) {
  for (size_t i = 0; i < std::size(kFateNames); ++i) {
    if (name == kFateNames[i]) return static_cast<EventFate>(i);
  }
  return EventFate::kDropped;  // written by this file only; a damaged row reads as dropped
}

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The error as the caller sees it: what failed, and in which database file.
Error in_database(const std::string& path, const std::string& what, const Error& error) {
  std::string context = error.message();
  if (context.find(path) == std::string::npos) context = path + ": " + context;
  return Error{error.code, what, std::move(context)};
}

// Runs body inside BEGIN IMMEDIATE ... COMMIT, rolling back when any part fails.
template <typename Body>
Status in_transaction(Database& db, Body&& body) {
  EMBER_CHECK(db.exec("BEGIN IMMEDIATE"));
  Status status = body();
  if (status.ok()) status = db.exec("COMMIT");
  if (!status.ok()) (void)db.exec("ROLLBACK");  // fails harmlessly when SQLite already did
  return status;
}

Status record_history(Database& db, const QueuedEvent& event, EventFate fate,
                      const std::string& detail, int64_t finished_ms) {
  EMBER_TRY(Statement insert,
            db.prepare("INSERT INTO history (function_name, request_id, fate, attempts, "
                       "accepted_ms, finished_ms, detail, handler_started_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                       "?7, ?8)"));
  insert.bind(1, event.function_name)
      .bind(2, event.request_id)
      .bind(3, event_fate_name(fate))
      .bind(4, int64_t{event.attempts})
      .bind(5, event.accepted_ms)
      .bind(6, finished_ms)
      .bind(7, detail)
      .bind(8, event.handler_started_ms);
  EMBER_CHECK(insert.run());
  // Everything at or below the (cap+1)-th newest id goes; nothing when there are fewer rows.
  EMBER_TRY(Statement trim,
            db.prepare("DELETE FROM history WHERE function_name = ?1 AND id <= (SELECT id FROM "
                       "history WHERE function_name = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)"));
  trim.bind(1, event.function_name).bind(2, static_cast<int64_t>(EventQueue::kHistoryPerFunction));
  return trim.run();
}

}  // namespace

const char* event_fate_name(EventFate fate) {
  const auto index = static_cast<size_t>(fate);
  return index < std::size(kFateNames) ? kFateNames[index] : "Dropped";
}

struct EventQueue::Impl {
  // An enqueue() waiting for its event to be committed, by itself or by another caller.
  struct PendingEvent {
    const NewEvent* event;
    bool done = false;
    Result<int64_t> id = int64_t{0};
  };

  Impl(std::string path_in, Database db_in) : path(std::move(path_in)), db(std::move(db_in)) {}

  // Inserts the group in one transaction (one fsync); every event gets its id or the error.
  void commit_group(const std::vector<PendingEvent*>& group);
  // The earliest not_before_ms of an event not in flight; db_mu held.
  std::optional<int64_t> earliest_waiting();
  // Counts a change that may have made work due and wakes wait_for_work().
  void bump_generation();

  const std::string path;

  // The connection and the in-flight ids. Lock order: db_mu before mu.
  std::mutex db_mu;
  Database db;
  std::set<int64_t> in_flight;

  // Group commit and wake-ups; never held across a database call.
  std::mutex mu;
  std::condition_variable group_done;  // a commit ended: a follower may be done or lead next
  std::condition_variable work;        // generation moved
  std::vector<PendingEvent*> pending;  // enqueued, not yet taken by a leader
  bool committing = false;
  uint64_t generation = 0;       // enqueues, releases and wake_all()s so far
  uint64_t seen_generation = 0;  // generation when wait_for_work() last returned
  std::atomic<size_t> commits{0};
};

void EventQueue::Impl::commit_group(const std::vector<PendingEvent*>& group) {
  std::lock_guard lock(db_mu);
  std::vector<int64_t> ids;
  Status status = in_transaction(db, [&]() -> Status {
    for (const PendingEvent* pending_event : group) {
      const NewEvent& e = *pending_event->event;
      EMBER_TRY(Statement insert,
                db.prepare("INSERT INTO events (request_id, function_name, payload, accepted_ms, "
                           "max_retries, max_event_age_s, dead_letter_arn, source, attempts, "
                           "not_before_ms, backoff_ms, last_error) VALUES (?1, ?2, ?3, ?4, ?5, "
                           "?6, ?7, ?8, 0, ?4, 0, '') RETURNING id"));
      insert.bind(1, e.request_id)
          .bind(2, e.function_name)
          .bind(3, e.payload)
          .bind(4, e.accepted_ms)
          .bind(5, int64_t{e.max_retries})
          .bind(6, e.max_event_age_s)
          .bind(7, e.dead_letter_arn)
          .bind(8, e.source);
      EMBER_TRY(bool row, insert.step());
      if (!row) return make_error("insert event", "no id returned");
      ids.push_back(insert.integer(0));
      EMBER_CHECK(insert.run());  // finishes the statement so COMMIT is not refused
    }
    return {};
  });
  commits.fetch_add(1);
  for (size_t i = 0; i < group.size(); ++i) {
    if (status.ok()) {
      group[i]->id = ids[i];
    } else {
      group[i]->id = in_database(
          path, "commit " + std::to_string(group.size()) + " queued event(s)", status.error());
    }
  }
}

std::optional<int64_t> EventQueue::Impl::earliest_waiting() {
  // At most in_flight.size() rows are skipped, so that many more than one suffice.
  auto select =
      db.prepare("SELECT id, not_before_ms FROM events ORDER BY not_before_ms, id LIMIT ?1");
  if (!select.ok()) return std::nullopt;
  select->bind(1, static_cast<int64_t>(in_flight.size() + 1));
  while (true) {
    auto row = select->step();
    if (!row.ok() || !*row) return std::nullopt;
    if (!in_flight.contains(select->integer(0))) return select->integer(1);
  }
}

void EventQueue::Impl::bump_generation() {
  {
    std::lock_guard lock(mu);
    ++generation;
  }
  work.notify_all();
}

Result<std::unique_ptr<EventQueue>> EventQueue::open(const std::string& path) {
  auto opened = [&]() -> Result<std::unique_ptr<EventQueue>> {
    EMBER_TRY(Database db, Database::open(path));
    // The shared wrapper's NORMAL may lose the last commits on power loss; an accepted event
    // must not be one of them.
    EMBER_CHECK(db.exec("PRAGMA synchronous=FULL"));
    EMBER_TRY(Statement version, db.prepare("PRAGMA user_version"));
    EMBER_TRY(bool has_row, version.step());
    const int64_t found = has_row ? version.integer(0) : 0;
    if (found > kSchemaVersion) {
      return make_error("open event queue", "schema version " + std::to_string(found) +
                                                " is newer than this emberd's " +
                                                std::to_string(kSchemaVersion));
    }
    EMBER_CHECK(db.exec(kSchema));
    EMBER_CHECK(db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion)));
    return std::unique_ptr<EventQueue>(new EventQueue(std::make_unique<Impl>(path, std::move(db))));
  }();
  if (!opened.ok()) return in_database(path, "open event queue", opened.error());
  return opened;
}

EventQueue::EventQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EventQueue::~EventQueue() { wake_all(); }

Result<int64_t> EventQueue::enqueue(const NewEvent& event) {
  Impl& q = *impl_;
  Impl::PendingEvent mine{&event};
  std::unique_lock lock(q.mu);
  q.pending.push_back(&mine);
  while (!mine.done) {
    if (q.committing) {
      q.group_done.wait(lock);  // the running commit, or the next one, will take ours
      continue;
    }
    // Leader: take everything waiting (our own event included) and commit it as one group.
    std::vector<Impl::PendingEvent*> group;
    group.swap(q.pending);
    q.committing = true;
    lock.unlock();
    q.commit_group(group);
    lock.lock();
    q.committing = false;
    bool any_ok = false;
    for (Impl::PendingEvent* pending_event : group) {
      pending_event->done = true;
      any_ok = any_ok || pending_event->id.ok();
    }
    if (any_ok) ++q.generation;
    q.group_done.notify_all();
    if (any_ok) q.work.notify_all();
  }
  return std::move(mine.id);
}

Result<std::vector<QueuedEvent>> EventQueue::claim(int64_t now_ms, size_t limit) {
  Impl& q = *impl_;
  std::vector<QueuedEvent> claimed;
  if (limit == 0) return claimed;
  std::lock_guard lock(q.db_mu);
  auto select = q.db.prepare(std::string("SELECT ") + kColumns +
                             " FROM events WHERE not_before_ms <= ?1 ORDER BY not_before_ms, id "
                             "LIMIT ?2");
  if (!select.ok()) return in_database(q.path, "claim queued events", select.error());
  // In-flight rows are skipped, so up to that many more are read; -1: SQLite's no limit.
  const int64_t rows =
      limit > (size_t{1} << 31) ? -1 : static_cast<int64_t>(limit + q.in_flight.size());
  select->bind(1, now_ms).bind(2, rows);
  while (claimed.size() < limit) {
    auto row = select->step();
    if (!row.ok()) return in_database(q.path, "claim queued events", row.error());
    if (!*row) break;
    if (q.in_flight.contains(select->integer(0))) continue;
    claimed.push_back(row_to_event(*select));
  }
  for (const QueuedEvent& e : claimed) q.in_flight.insert(e.id);
  return claimed;
}

Status EventQueue::release(const QueuedEvent& event) {
  Impl& q = *impl_;
  {
    std::lock_guard lock(q.db_mu);
    auto update = q.db.prepare(
        "UPDATE events SET attempts = ?2, not_before_ms = ?3, backoff_ms = ?4, last_error = ?5 "
        "WHERE id = ?1");
    if (!update.ok()) return in_database(q.path, "release queued event", update.error());
    update->bind(1, event.id)
        .bind(2, int64_t{event.attempts})
        .bind(3, event.not_before_ms)
        .bind(4, event.backoff_ms)
        .bind(5, event.last_error);
    Status status = update->run();
    if (!status.ok()) return in_database(q.path, "release queued event", status.error());
    q.in_flight.erase(event.id);
  }
  q.bump_generation();
  return {};
}

Status EventQueue::finish(const QueuedEvent& event, EventFate fate, const std::string& detail,
                          int64_t now_ms) {
  Impl& q = *impl_;
  std::lock_guard lock(q.db_mu);
  Status status = in_transaction(q.db, [&]() -> Status {
    EMBER_TRY(Statement remove, q.db.prepare("DELETE FROM events WHERE id = ?1"));
    remove.bind(1, event.id);
    EMBER_CHECK(remove.run());
    return record_history(q.db, event, fate, detail, now_ms);
  });
  if (!status.ok()) return in_database(q.path, "finish queued event", status.error());
  q.in_flight.erase(event.id);
  return {};
}

Result<size_t> EventQueue::drop_function(const std::string& function_name) {
  Impl& q = *impl_;
  std::lock_guard lock(q.db_mu);
  size_t dropped = 0;
  Status status = in_transaction(q.db, [&]() -> Status {
    EMBER_TRY(Statement select, q.db.prepare(std::string("SELECT ") + kColumns +
                                             " FROM events WHERE function_name = ?1 ORDER BY id"));
    select.bind(1, function_name);
    std::vector<QueuedEvent> waiting;
    while (true) {
      EMBER_TRY(bool row, select.step());
      if (!row) break;
      if (!q.in_flight.contains(select.integer(0))) waiting.push_back(row_to_event(select));
    }
    const int64_t now_ms = unix_now_ms();
    for (const QueuedEvent& e : waiting) {
      EMBER_TRY(Statement remove, q.db.prepare("DELETE FROM events WHERE id = ?1"));
      remove.bind(1, e.id);
      EMBER_CHECK(remove.run());
      EMBER_CHECK(record_history(q.db, e, EventFate::kDropped, "function deleted", now_ms));
    }
    dropped = waiting.size();
    return {};
  });
  if (!status.ok()) return in_database(q.path, "drop queued events", status.error());
  return dropped;
}

void EventQueue::wait_for_work(std::chrono::milliseconds longest) {
  Impl& q = *impl_;
  uint64_t since = 0;
  {
    std::lock_guard lock(q.mu);
    since = q.seen_generation;
  }
  // Capped so a huge `longest` cannot overflow the deadline.
  longest = std::clamp<std::chrono::milliseconds>(longest, std::chrono::milliseconds(0),
                                                  std::chrono::hours(24));
  const auto start = std::chrono::steady_clock::now();
  auto deadline = start + longest;
  std::optional<int64_t> due;
  {
    std::lock_guard lock(q.db_mu);
    due = q.earliest_waiting();
  }
  if (due) {
    const int64_t in_ms = std::max<int64_t>(*due - unix_now_ms(), 0);
    deadline = std::min(deadline, start + std::chrono::milliseconds(in_ms));
  }
  // `since` is from before the query: a change made during it is not missed.
  std::unique_lock lock(q.mu);
  q.work.wait_until(lock, deadline, [&] { return q.generation != since; });
  q.seen_generation = q.generation;
}

void EventQueue::wake_all() { impl_->bump_generation(); }

Result<EventQueueStats> EventQueue::stats(const std::string& function_name, int64_t now_ms) {
  Impl& q = *impl_;
  std::lock_guard lock(q.db_mu);
  auto select = q.db.prepare(
      "SELECT id, accepted_ms, attempts, backoff_ms FROM events WHERE function_name = ?1");
  if (!select.ok()) return in_database(q.path, "read queue stats", select.error());
  select->bind(1, function_name);
  EventQueueStats stats;
  std::optional<int64_t> oldest;
  while (true) {
    auto row = select->step();
    if (!row.ok()) return in_database(q.path, "read queue stats", row.error());
    if (!*row) break;
    ++stats.depth;
    const int64_t accepted_ms = select->integer(1);
    oldest = oldest ? std::min(*oldest, accepted_ms) : accepted_ms;
    if (q.in_flight.contains(select->integer(0))) {
      ++stats.in_flight;
    } else if (select->integer(2) > 0 || select->integer(3) > 0) {
      ++stats.waiting_retry;
    }
  }
  if (oldest) stats.oldest_age_ms = std::max<int64_t>(now_ms - *oldest, 0);
  return stats;
}

Result<std::vector<EventHistoryEntry>> EventQueue::history(const std::string& function_name,
                                                           size_t limit) {
  Impl& q = *impl_;
  std::lock_guard lock(q.db_mu);
  auto select = q.db.prepare(
      "SELECT request_id, fate, attempts, accepted_ms, finished_ms, detail, handler_started_ms "
      "FROM history "
      "WHERE function_name = ?1 ORDER BY id DESC LIMIT ?2");
  if (!select.ok()) return in_database(q.path, "read event history", select.error());
  select->bind(1, function_name).bind(2, static_cast<int64_t>(limit));  // SIZE_MAX: -1, no limit
  std::vector<EventHistoryEntry> entries;
  while (true) {
    auto row = select->step();
    if (!row.ok()) return in_database(q.path, "read event history", row.error());
    if (!*row) return entries;
    EventHistoryEntry entry;
    entry.request_id = select->text(0);
    entry.fate = fate_from_name(select->text(1));
    entry.attempts = static_cast<int>(select->integer(2));
    entry.accepted_ms = select->integer(3);
    entry.finished_ms = select->integer(4);
    entry.detail = select->text(5);
    entry.handler_started_ms = select->integer(6);
    entries.push_back(std::move(entry));
  }
}

size_t EventQueue::commits() const { return impl_->commits.load(); }

}  // namespace ember::host

// HandlerThreads: LIFO hand-off of tasks to idle threads.
#include "host/api/handler_threads.h"

namespace ember::host {

HandlerThreads::HandlerThreads(size_t threads) {
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());
  for (auto& worker : workers_) {
    worker->thread = std::thread([this, w = worker.get()] { run(*w); });
  }
}

HandlerThreads::~HandlerThreads() { join(); }

void HandlerThreads::post(std::function<void()> task) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  if (idle_.empty()) {
    queued_.push_back(std::move(task));
    return;
  }
  Worker* worker = idle_.back();
  idle_.pop_back();
  worker->task = std::move(task);
  worker->wake.notify_one();
}

size_t HandlerThreads::idle() {
  std::lock_guard lock(mu_);
  return stopping_ ? 0 : idle_.size();
}

void HandlerThreads::run(Worker& worker) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!worker.task && !queued_.empty()) {
      worker.task = std::move(queued_.front());
      queued_.pop_front();
    }
    if (!worker.task) {
      if (stopping_) return;
      idle_.push_back(&worker);
      worker.wake.wait(lock, [&] { return worker.task || stopping_; });
      if (!worker.task) return;  // stopping, and post() no longer hands out tasks
      continue;
    }
    std::function<void()> task = std::move(worker.task);
    worker.task = nullptr;
    lock.unlock();
    task();
    task = nullptr;  // what it captured goes before the thread waits again
    lock.lock();
  }
}

void HandlerThreads::join() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (Worker* worker : idle_) worker->wake.notify_one();
  }
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

}  // namespace ember::host

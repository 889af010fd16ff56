// HandlerThreads: a fixed set of threads that run posted tasks, the most recently idle
// thread first.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ember::host {

// A task goes to the thread that became idle last, or waits in order for the next one that
// does. So a burst of N tasks at once uses N threads, the same N each time, and the others
// stay as they started. (boost::asio::thread_pool wakes its threads in turn: in time every
// one of them runs requests, and each keeps the stack pages and malloc caches those touched,
// so the daemon's memory grows with the pool's size rather than with its load.)
class HandlerThreads {
 public:
  explicit HandlerThreads(size_t threads);
  ~HandlerThreads();  // join()
  HandlerThreads(const HandlerThreads&) = delete;
  HandlerThreads& operator=(const HandlerThreads&) = delete;

  void post(std::function<void()> task);
  // Runs every task posted so far, then ends the threads; later posts are not run.
  void join();

  size_t size() const { return workers_.size(); }
  size_t idle();  // threads waiting for a task

 private:
  struct Worker {
    std::condition_variable wake;
    std::function<void()> task;  // given by post() while the worker was idle
    std::thread thread;
  };
  void run(Worker& worker);

  std::mutex mu_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Worker*> idle_;                 // the last one became idle last
  std::deque<std::function<void()>> queued_;  // posted while none was idle
  bool stopping_ = false;
};

}  // namespace ember::host

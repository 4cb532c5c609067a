// A small persistent thread pool: parallel_for splits a range of tasks over the caller plus (threads-1) workers.
// One parallel_for runs at a time (a mutex serialises callers such as the main thread and a libuv worker).
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace saekit {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  // Runs fn(task, worker) for task in [0, tasks); worker in [0, threads()). Blocks until all tasks are done.
  void parallel_for(int tasks, const std::function<void(int task, int worker)>& fn);

 private:
  void worker_loop(int worker);
  void run_tasks(int worker);

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex call_mutex_;  // serialises parallel_for callers
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int, int)>* job_ = nullptr;
  int job_tasks_ = 0;
  std::atomic<int> next_task_{0};
  int active_workers_ = 0;
  unsigned long generation_ = 0;
  bool stop_ = false;
};

// The process-wide pool used by all kernels; resize_pool() replaces it (callers in flight keep the old one alive).
std::shared_ptr<ThreadPool> pool();
int resize_pool(int threads);

// Runs fn over [0, n) in contiguous chunks, one per worker, when work is large enough to pay for threads.
void parallel_chunks(long n, long min_per_thread, const std::function<void(long begin, long end)>& fn);

}  // namespace saekit

#include "thread_pool.h"

#include <algorithm>
#include <memory>

namespace saekit {

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  for (int w = 1; w < threads_; ++w) workers_.emplace_back([this, w] { worker_loop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_tasks(int worker) {
  for (;;) {
    int task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= job_tasks_) break;
    (*job_)(task, worker);
  }
}

void ThreadPool::worker_loop(int worker) {
  unsigned long seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    run_tasks(worker);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--active_workers_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int tasks, const std::function<void(int, int)>& fn) {
  if (tasks <= 0) return;
  if (threads_ == 1 || tasks == 1) {
    for (int t = 0; t < tasks; ++t) fn(t, 0);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    job_tasks_ = tasks;
    next_task_.store(0, std::memory_order_relaxed);
    active_workers_ = threads_ - 1;
    ++generation_;
  }
  wake_.notify_all();
  run_tasks(0);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return active_workers_ == 0; });
  job_ = nullptr;
}

namespace {
std::mutex g_pool_mutex;
std::shared_ptr<ThreadPool> g_pool;
}  // namespace

std::shared_ptr<ThreadPool> pool() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (!g_pool) g_pool = std::make_shared<ThreadPool>(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return g_pool;
}

int resize_pool(int threads) {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  threads = std::max(1, threads);
  if (!g_pool || g_pool->threads() != threads) {
    g_pool = std::make_shared<ThreadPool>(threads);
  }
  return threads;
}

void parallel_chunks(long n, long min_per_thread, const std::function<void(long, long)>& fn) {
  std::shared_ptr<ThreadPool> p = pool();
  long parts = std::min<long>(p->threads(), std::max<long>(1, n / std::max<long>(1, min_per_thread)));
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  p->parallel_for(static_cast<int>(parts), [&](int task, int) {
    long begin = n * task / parts, end = n * (task + 1) / parts;
    if (begin < end) fn(begin, end);
  });
}

}  // namespace saekit

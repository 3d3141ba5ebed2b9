#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace qkv {

namespace {
thread_local bool t_inside_pool = false;
}

struct ThreadPool::Impl {
  std::vector<std::thread> workers;
  std::mutex submit_mutex;  // one top-level job at a time
  std::mutex mutex;
  std::condition_variable wake, done;
  const std::function<void(int64_t)>* fn = nullptr;
  int64_t tasks = 0;
  std::atomic<int64_t> next{0};
  int active = 0;          // workers still inside the current job
  uint64_t generation = 0;
  bool stop = false;

  void work() {
    t_inside_pool = true;
    for (;;) {
      int64_t t = next.fetch_add(1, std::memory_order_relaxed);
      if (t >= tasks) break;
      (*fn)(t);
    }
    t_inside_pool = false;
  }

  void worker_loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
      }
      work();
      std::lock_guard<std::mutex> lock(mutex);
      if (--active == 0) done.notify_all();
    }
  }

  void start(int threads) {
    stop = false;
    for (int i = 1; i < threads; ++i) workers.emplace_back([this] { worker_loop(); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    wake.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
  }
};

int default_thread_count() {
  if (const char* env = std::getenv("QKV_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? static_cast<int>(hc) : 1;
}

ThreadPool::ThreadPool(int threads) : impl_(new Impl) { impl_->start(std::max(1, threads)); }

ThreadPool::~ThreadPool() {
  impl_->shutdown();
  delete impl_;
}

ThreadPool& ThreadPool::global() {
  // Never destroyed: worker threads must not be joined during static destruction.
  static ThreadPool* pool = new ThreadPool(default_thread_count());
  return *pool;
}

int ThreadPool::threads() const { return static_cast<int>(impl_->workers.size()) + 1; }

void ThreadPool::resize(int threads) {
  std::lock_guard<std::mutex> submit(impl_->submit_mutex);
  impl_->shutdown();
  impl_->start(std::max(1, std::min(threads, 256)));
}

void ThreadPool::run(int64_t tasks, const std::function<void(int64_t)>& fn) {
  if (tasks <= 0) return;
  if (tasks == 1 || t_inside_pool || impl_->workers.empty()) {
    for (int64_t t = 0; t < tasks; ++t) fn(t);
    return;
  }
  std::lock_guard<std::mutex> submit(impl_->submit_mutex);
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->fn = &fn;
    impl_->tasks = tasks;
    impl_->next.store(0, std::memory_order_relaxed);
    impl_->active = static_cast<int>(impl_->workers.size());
    ++impl_->generation;
  }
  impl_->wake.notify_all();
  impl_->work();
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->done.wait(lock, [&] { return impl_->active == 0; });
  impl_->fn = nullptr;
}

void parallel_for(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  int64_t n = end - begin;
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int threads = ThreadPool::global().threads();
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, static_cast<int64_t>(threads) * 4);
  if (chunks <= 1 || t_inside_pool) {
    fn(begin, end);
    return;
  }
  int64_t step = (n + chunks - 1) / chunks;
  ThreadPool::global().run(chunks, [&](int64_t c) {
    int64_t lo = begin + c * step, hi = std::min(end, lo + step);
    if (lo < hi) fn(lo, hi);
  });
}

}  // namespace qkv

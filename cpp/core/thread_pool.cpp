#include "core/thread_pool.h"

#include "core/device.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace qkv {

namespace {

thread_local bool t_inside_pool = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// How long an idle thread polls for the next job (or the caller for the last task) before it
// sleeps. A training step is hundreds of short parallel calls a few microseconds apart; waking a
// sleeping thread costs ~50 us on a small VM, more than many of those calls take. Polling for a
// short while after each call (as OpenMP runtimes do, for far longer) keeps the workers warm
// between them and costs an idle process at most this much CPU per call. QKV_SPIN_US overrides it
// (0: always sleep).
int64_t spin_ns() {
  static const int64_t ns = [] {
    if (const char* env = std::getenv("QKV_SPIN_US")) {
      char* end = nullptr;
      long us = std::strtol(env, &end, 10);
      if (end != env && us >= 0) return static_cast<int64_t>(std::min(us, 1000000L)) * 1000;
    }
    return int64_t(200) * 1000;
  }();
  return ns;
}

// Polls `ready` for up to spin_ns(); true as soon as it holds.
template <class Pred>
bool spin_until(Pred ready) {
  if (ready()) return true;
  const int64_t limit = spin_ns();
  if (limit <= 0) return false;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 1;; ++i) {
    cpu_relax();
    if (ready()) return true;
    if ((i & 63) == 0) {
      if (std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count() > limit)
        return false;
      std::this_thread::yield();  // let a descheduled thread with work run on this core
    }
  }
}

// One call of run(): lives on the caller's stack for the duration of the call. Its tasks run with
// the caller's execution context (core/device.h: the op's device, host access), and the first
// exception a task throws is handed back to the caller.
struct Job {
  const std::function<void(int64_t)>* fn;
  int64_t tasks;
  ThreadContext context;
  std::atomic<int64_t> next{0}, finished{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
};

}  // namespace

struct ThreadPool::Impl {
  std::vector<std::thread> workers;
  std::mutex submit_mutex;  // one top-level job at a time

  // Publishing a job: `current` is set, then `generation` bumped. Workers poll `generation`, then
  // sleep on `wake`; `sleepers` tells the caller whether a notify is needed. The seq_cst
  // generation bump / sleepers load (caller) and sleepers increment / generation load (worker)
  // guarantee that one side sees the other: no lost wake-up.
  std::atomic<Job*> current{nullptr};
  std::atomic<uint64_t> generation{0};
  std::atomic<int> sleepers{0};
  // Workers between reading `current` and being done with that job: the caller waits for none to
  // remain before its Job goes out of scope.
  std::atomic<int> users{0};
  std::atomic<bool> caller_sleeping{false};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::condition_variable wake, done;

  // Claims and runs tasks of `job` until none are left; the thread finishing the last one wakes a
  // sleeping caller.
  void work(Job& job) {
    const bool outer = t_inside_pool;
    const ThreadContext saved = thread_context();
    t_inside_pool = true;
    set_thread_context(job.context);
    for (;;) {
      int64_t t = job.next.fetch_add(1, std::memory_order_relaxed);
      if (t >= job.tasks) break;
      try {
        if (!job.failed.load(std::memory_order_relaxed)) (*job.fn)(t);
      } catch (...) {
        if (!job.failed.exchange(true)) job.error = std::current_exception();
      }
      if (job.finished.fetch_add(1, std::memory_order_seq_cst) + 1 == job.tasks &&
          caller_sleeping.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lock(mutex);
        done.notify_all();
      }
    }
    set_thread_context(saved);
    t_inside_pool = outer;
  }

  void worker_loop() {
    uint64_t seen = generation.load(std::memory_order_acquire);
    for (;;) {
      auto fresh = [&] { return stop.load(std::memory_order_acquire) || generation.load(std::memory_order_seq_cst) != seen; };
      if (!spin_until(fresh)) {
        std::unique_lock<std::mutex> lock(mutex);
        sleepers.fetch_add(1, std::memory_order_seq_cst);
        wake.wait(lock, fresh);
        sleepers.fetch_sub(1, std::memory_order_relaxed);
      }
      if (stop.load(std::memory_order_acquire)) return;
      seen = generation.load(std::memory_order_acquire);
      users.fetch_add(1, std::memory_order_seq_cst);
      if (Job* job = current.load(std::memory_order_seq_cst)) work(*job);
      users.fetch_sub(1, std::memory_order_release);
    }
  }

  void start(int threads) {
    stop.store(false);
    for (int i = 1; i < threads; ++i) workers.emplace_back([this] { worker_loop(); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop.store(true);
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
  Impl& p = *impl_;
  std::lock_guard<std::mutex> submit(p.submit_mutex);
  Job job;
  job.fn = &fn;
  job.tasks = tasks;
  job.context = thread_context();
  p.current.store(&job, std::memory_order_seq_cst);
  p.generation.fetch_add(1, std::memory_order_seq_cst);
  if (p.sleepers.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.wake.notify_all();
  }
  p.work(job);
  // Wait for the tasks other threads claimed, polling first, then asleep.
  auto all_done = [&] { return job.finished.load(std::memory_order_acquire) == tasks; };
  if (!spin_until(all_done)) {
    std::unique_lock<std::mutex> lock(p.mutex);
    p.caller_sleeping.store(true, std::memory_order_seq_cst);
    p.done.wait(lock, all_done);
    p.caller_sleeping.store(false, std::memory_order_relaxed);
  }
  // Retire the job; a worker that read `current` just before this may still look at it (to find
  // no task left): wait until none does.
  p.current.store(nullptr, std::memory_order_seq_cst);
  while (p.users.load(std::memory_order_seq_cst) != 0) {
    cpu_relax();
    std::this_thread::yield();
  }
  if (job.failed.load()) std::rethrow_exception(job.error);
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

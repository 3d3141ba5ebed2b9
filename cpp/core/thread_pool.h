#pragma once
// One pool of worker threads shared by every kernel. The calling thread takes part in the work.
// A call made from inside a pool task (nested parallelism) runs serially on that thread, and
// top-level calls from different threads are served one at a time.
#include <cstdint>
#include <functional>

namespace qkv {

class ThreadPool {
 public:
  static ThreadPool& global();
  int threads() const;  // workers + the caller
  // Runs fn(task) for task in [0, tasks). Tasks are claimed dynamically; what a task computes must
  // depend only on its index (that is what keeps results deterministic for a given thread count).
  void run(int64_t tasks, const std::function<void(int64_t)>& fn);
  void resize(int threads);  // for tests and benchmarks; not while work is running

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool();

 private:
  explicit ThreadPool(int threads);
  struct Impl;
  Impl* impl_;
};

// Splits [begin, end) into chunks of at least `grain` items and runs fn(lo, hi) on each in parallel.
void parallel_for(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Threads from QKV_THREADS, else the number of cores.
int default_thread_count();

}  // namespace qkv

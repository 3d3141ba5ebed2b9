#pragma once
// Long native jobs with progress reports, abort and streamed input (word2vec training; autograd
// fit() next). A job runs on its own std::thread, not on the libuv pool that a minutes-long job
// would starve, and settles a Promise on the main thread:
//
//   const { promise, abort } = binding.someJob(...);   // built by start_progress_job
//   signal.addEventListener('abort', () => abort());    // work sees ctl.aborted(); rejects ERR_ABORTED
//
// Progress goes through one Napi::ThreadSafeFunction: report() never blocks the worker, and
// reports are coalesced (at most one in flight; the newest values win), so a slow onProgress
// callback cannot pile up work on the event loop. If onProgress throws, the job is aborted and
// its Promise rejects with that exception. An abort requested before the Promise settles always
// rejects it with QkvError ERR_ABORTED, and the job's threads are joined before it settles, so the
// process stays healthy. When the Node environment shuts down, running jobs are aborted.
//
// FeedQueue<T> carries input from JavaScript to the worker (a bounded queue with backpressure):
// `await feed.push(x)` resolves true once the item is queued, or false when the job takes no more
// input (aborted, failed or finished), which tells the producer to stop.
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "binding.h"
#include "core/error.h"

namespace qkv::binding {

// Progress values, in order; delivered to onProgress as a plain object of numbers.
using ProgressFields = std::vector<std::pair<std::string, double>>;
using MainThreadTask = std::function<void(Napi::Env)>;

struct JobState;

// What a job's work sees, and what the binding uses to wire abort and input.
class JobControl {
 public:
  explicit JobControl(std::shared_ptr<JobState> state) : state_(std::move(state)) {}
  const std::string& name() const;

  // ---- any thread
  bool aborted() const;
  void throw_if_aborted() const;  // Error(Aborted, "<name>: aborted")
  // Sends the newest progress to onProgress (if one was given). Never blocks.
  void report(ProgressFields fields);
  // Sends an item (a JSON text) to onItem (if one was given): every item, in order, before the
  // Promise settles (not coalesced: for streamed results such as generated tokens). Never blocks.
  void emit(std::string item);
  // Runs task on the main thread (with a valid Env), in order with other posts. False once the job
  // has settled (the task is then dropped).
  bool post(MainThreadTask task);

  // ---- main thread
  void abort();  // idempotent; runs the abort hooks
  // Hooks run on the main thread: when abort() is first called, and when the job settles.
  void on_abort(std::function<void()> hook);
  void on_settle(std::function<void()> hook);
  // Hooks that wake the work's threads (no N-API calls allowed): run on abort() and also when the
  // Node environment shuts down, when JavaScript can no longer be called.
  void on_wake(std::function<void()> hook);

 private:
  std::shared_ptr<JobState> state_;
};

struct ProgressJobSpec {
  std::string name;                                   // "Word2Vec.train": names the job in errors
  std::function<void(JobControl&)> work;              // on the job's thread; throw qkv::Error to reject
  std::function<Napi::Value(Napi::Env)> done;         // on the main thread after work returns: the value
  Napi::Value on_progress;                            // a function, or undefined/null for none
  Napi::Value on_item;                                // a function, or undefined/null for none
};

// Starts the job and returns { promise, abort }. `setup` (optional) runs on the main thread before
// the work starts, to add members (e.g. a feed's push/close) to the returned object.
Napi::Object start_progress_job(Napi::Env env, ProgressJobSpec spec,
                                const std::function<void(Napi::Object handle, std::shared_ptr<JobControl>)>& setup = nullptr);

// ---- FeedQueue -----------------------------------------------------------------------------------
template <class T>
class FeedQueue : public std::enable_shared_from_this<FeedQueue<T>> {
 public:
  FeedQueue(std::shared_ptr<JobControl> ctl, size_t capacity) : ctl_(std::move(ctl)), capacity_(capacity ? capacity : 1) {}

  // Registers the abort/settle hooks that stop the queue. Call once, on the main thread.
  void attach() {
    std::weak_ptr<FeedQueue<T>> weak = this->shared_from_this();
    auto stop = [weak]() {
      if (auto self = weak.lock()) self->stop();
    };
    ctl_->on_wake([weak]() {
      if (auto self = weak.lock()) self->wake();
    });
    ctl_->on_abort(stop);
    ctl_->on_settle(stop);
  }

  // Worker side: the next item; false when the producer closed the feed (and it is drained) or the
  // job stopped. Blocks until one of those.
  bool pop(T& out) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !q_.empty() || closed_ || stopped_; });
    if (stopped_ || q_.empty()) return false;
    out = std::move(q_.front());
    q_.pop_front();
    if (waiting_ && !admit_posted_) {
      admit_posted_ = true;
      std::weak_ptr<FeedQueue<T>> weak = this->shared_from_this();
      ctl_->post([weak](Napi::Env env) {
        if (auto self = weak.lock()) self->admit(env);
      });
    }
    return true;
  }

  // Main-thread side: Promise<boolean>. One push at a time: await each before the next.
  Napi::Value push(Napi::Env env, T item) {
    Deferred deferred(env);
    std::unique_lock<std::mutex> lock(mu_);
    if (waiting_) throw Error(ErrorKind::Internal, ctl_->name() + ": push() called before the previous push settled");
    if (closed_ || stopped_) {
      lock.unlock();
      deferred.Resolve(Napi::Boolean::New(env, false));
      return deferred.Promise();
    }
    if (q_.size() < capacity_) {
      q_.push_back(std::move(item));
      lock.unlock();
      cv_.notify_one();
      deferred.Resolve(Napi::Boolean::New(env, true));
      return deferred.Promise();
    }
    pending_ = std::move(item);
    waiting_ = true;
    pending_deferred_.emplace(deferred);
    return deferred.Promise();
  }

  // Main-thread side: no more items.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  void admit(Napi::Env env) {
    std::optional<Deferred> d;
    bool accepted = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      admit_posted_ = false;
      if (!waiting_) return;
      waiting_ = false;
      if (!stopped_) {
        q_.push_back(std::move(*pending_));
        accepted = true;
      }
      pending_.reset();
      d.swap(pending_deferred_);
    }
    cv_.notify_one();
    if (d) d->Resolve(Napi::Boolean::New(env, accepted));
  }

  void wake() {  // no N-API: pops return false from now on
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      q_.clear();
    }
    cv_.notify_all();
  }

  void stop() {  // main thread: also settles a waiting push
    std::optional<Deferred> d;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      q_.clear();
      if (waiting_) {
        waiting_ = false;
        pending_.reset();
        d.swap(pending_deferred_);
      }
    }
    cv_.notify_all();
    if (d) d->Resolve(Napi::Boolean::New(d->Env(), false));
  }

  std::shared_ptr<JobControl> ctl_;
  size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> q_;
  bool closed_ = false, stopped_ = false;
  bool waiting_ = false, admit_posted_ = false;
  std::optional<T> pending_;
  std::optional<Deferred> pending_deferred_;  // main thread only
};

}  // namespace qkv::binding

// Long jobs with progress and abort (see progress_job.h).
#include "progress_job.h"

#include "binding.h"

namespace qkv::binding {

namespace {
void run_task(Napi::Env env, Napi::Function, void*, MainThreadTask* task) {
  // env is null when the environment is shutting down: the task is dropped, its data freed.
  if (env != nullptr && task && *task) (*task)(env);
  delete task;
}
using Tsfn = Napi::TypedThreadSafeFunction<void, MainThreadTask, run_task>;
}  // namespace

struct JobState {
  std::string name;
  Tsfn tsfn;
  std::thread thread;
  std::atomic<bool> aborted{false};
  std::atomic<bool> settled{false};
  std::mutex post_mutex;  // orders posts against the final Release
  bool released = false;

  // main thread only
  std::optional<Deferred> deferred;
  Napi::FunctionReference on_progress, on_item;
  Napi::ObjectReference callback_error;
  std::vector<std::function<void()>> abort_hooks, settle_hooks, wake_hooks;
  std::function<Napi::Value(Napi::Env)> done;
  std::optional<Napi::Env::CleanupHook<void (*)(JobState*), JobState>> cleanup;

  // progress coalescing
  std::mutex progress_mutex;
  ProgressFields latest;
  bool report_pending = false;

  // outcome of work (written by the job thread before its last post)
  bool failed = false;
  ErrorKind kind = ErrorKind::Internal;
  std::string message;

  bool post(MainThreadTask task) {
    std::lock_guard<std::mutex> lock(post_mutex);
    if (released) return false;
    auto* heap = new MainThreadTask(std::move(task));
    if (tsfn.NonBlockingCall(heap) != napi_ok) {
      delete heap;
      return false;
    }
    return true;
  }

  void release() {
    std::lock_guard<std::mutex> lock(post_mutex);
    if (released) return;
    released = true;
    tsfn.Release();
  }

  void abort_now() {  // main thread
    if (aborted.exchange(true)) return;
    wake_all();
    auto hooks = abort_hooks;
    for (auto& h : hooks) h();
  }

  void wake_all() {
    auto hooks = wake_hooks;
    for (auto& h : hooks) h();
  }
};

const std::string& JobControl::name() const { return state_->name; }
bool JobControl::aborted() const { return state_->aborted.load(std::memory_order_relaxed); }
void JobControl::throw_if_aborted() const {
  if (aborted()) throw Error(ErrorKind::Aborted, state_->name + ": aborted");
}
bool JobControl::post(MainThreadTask task) { return state_->post(std::move(task)); }
void JobControl::abort() { state_->abort_now(); }
void JobControl::on_abort(std::function<void()> hook) { state_->abort_hooks.push_back(std::move(hook)); }
void JobControl::on_settle(std::function<void()> hook) { state_->settle_hooks.push_back(std::move(hook)); }
void JobControl::on_wake(std::function<void()> hook) { state_->wake_hooks.push_back(std::move(hook)); }

namespace {

// Calls a user callback; one that throws aborts the job, whose Promise then rejects with what it threw.
void call_back(JobState& s, Napi::Env env, Napi::FunctionReference& fn, Napi::Value arg) {
  fn.Call({arg});
  if (env.IsExceptionPending()) {
    Napi::Error e = env.GetAndClearPendingException();
    if (s.callback_error.IsEmpty()) s.callback_error = Napi::Persistent(e.Value());
    s.abort_now();
  }
}

}  // namespace

void JobControl::emit(std::string item) {
  std::weak_ptr<JobState> weak = state_;
  state_->post([weak, item = std::move(item)](Napi::Env env) {
    auto s = weak.lock();
    if (!s || s->on_item.IsEmpty() || s->settled || s->aborted) return;
    Napi::HandleScope scope(env);
    call_back(*s, env, s->on_item, Napi::String::New(env, item));
  });
}

void JobControl::report(ProgressFields fields) {
  JobState* st = state_.get();
  {
    std::lock_guard<std::mutex> lock(st->progress_mutex);
    st->latest = std::move(fields);
    if (st->report_pending) return;
    st->report_pending = true;
  }
  std::weak_ptr<JobState> weak = state_;
  st->post([weak](Napi::Env env) {
    auto s = weak.lock();
    if (!s) return;
    ProgressFields f;
    {
      std::lock_guard<std::mutex> lock(s->progress_mutex);
      f.swap(s->latest);
      s->report_pending = false;
    }
    if (s->on_progress.IsEmpty() || s->settled || s->aborted) return;
    Napi::HandleScope scope(env);
    Napi::Object o = Napi::Object::New(env);
    for (auto& kv : f) o.Set(kv.first, Napi::Number::New(env, kv.second));
    call_back(*s, env, s->on_progress, o);
  });
}

namespace {

void settle(const std::shared_ptr<JobState>& st, Napi::Env env) {
  Napi::HandleScope scope(env);
  st->settled = true;
  if (st->cleanup) {
    st->cleanup->Remove(env);
    st->cleanup.reset();
  }
  auto hooks = st->settle_hooks;
  for (auto& h : hooks) h();
  st->abort_hooks.clear();
  st->settle_hooks.clear();
  st->wake_hooks.clear();
  Deferred d = *st->deferred;
  st->deferred.reset();
  if (!st->callback_error.IsEmpty()) {
    Napi::Value e = st->callback_error.Value();  // the thrown Error object
    st->callback_error.Reset();
    d.Reject(e);
  } else if (st->failed && !(st->aborted && st->kind == ErrorKind::Aborted)) {
    d.Reject(make_error(env, st->kind, st->message).Value());
  } else if (st->aborted) {
    d.Reject(make_error(env, ErrorKind::Aborted, st->name + ": aborted").Value());
  } else {
    Napi::Value v = guarded(env, [&] { return st->done ? st->done(env) : env.Undefined(); });
    if (env.IsExceptionPending()) d.Reject(env.GetAndClearPendingException().Value());
    else d.Resolve(v);
  }
  st->done = nullptr;
  st->on_progress.Reset();
  st->on_item.Reset();
}

}  // namespace

Napi::Object start_progress_job(Napi::Env env, ProgressJobSpec spec,
                                const std::function<void(Napi::Object, std::shared_ptr<JobControl>)>& setup) {
  auto st = std::make_shared<JobState>();
  st->name = spec.name;
  st->done = std::move(spec.done);
  st->deferred.emplace(env);
  if (!spec.on_progress.IsUndefined() && !spec.on_progress.IsNull()) {
    if (!spec.on_progress.IsFunction()) throw_type(spec.name + ": onProgress must be a function");
    st->on_progress = Napi::Persistent(spec.on_progress.As<Napi::Function>());
  }
  if (!spec.on_item.IsUndefined() && !spec.on_item.IsNull()) {
    if (!spec.on_item.IsFunction()) throw_type(spec.name + ": onItem must be a function");
    st->on_item = Napi::Persistent(spec.on_item.As<Napi::Function>());
  }
  // The finalizer runs on the main thread once the job thread has released the function (its last
  // act), so the join below waits for a thread that is already returning.
  st->tsfn = Tsfn::New(env, ("qkv:" + spec.name).c_str(), 0, 1, nullptr,
                       [st](Napi::Env, void*, void*) {
                         if (st->thread.joinable()) st->thread.join();
                       },
                       static_cast<void*>(nullptr));
  // The environment is going away: stop the work (it polls `aborted`, and blocked input waits are
  // woken) so that the finalizer's join below returns promptly.
  // Its JavaScript references are dropped now, while the environment can still delete them: the
  // job's state may outlive the environment (the job thread holds it until it returns), and a
  // reference deleted after the environment is gone touches freed memory.
  void (*on_env_cleanup)(JobState*) = [](JobState* s) {
    s->aborted = true;
    s->wake_all();
    s->on_progress.Reset();
    s->on_item.Reset();
    s->callback_error.Reset();
  };
  st->cleanup.emplace(env.AddCleanupHook(on_env_cleanup, st.get()));

  auto ctl = std::make_shared<JobControl>(st);
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", st->deferred->Promise());
  std::weak_ptr<JobState> weak = st;
  handle.Set("abort", Napi::Function::New(env, [weak](const Napi::CallbackInfo& info) -> Napi::Value {
               if (auto s = weak.lock())
                 if (!s->settled) s->abort_now();
               return info.Env().Undefined();
             }));
  if (setup) setup(handle, ctl);

  auto work = std::move(spec.work);
  st->thread = std::thread([st, ctl, work]() {
    try {
      work(*ctl);
    } catch (const Error& e) {
      st->failed = true;
      st->kind = e.kind();
      st->message = e.what();
    } catch (const std::bad_alloc&) {
      st->failed = true;
      st->kind = ErrorKind::Range;
      st->message = st->name + ": out of memory";
    } catch (const std::exception& e) {
      st->failed = true;
      st->kind = ErrorKind::Internal;
      st->message = st->name + ": " + e.what();
    }
    std::weak_ptr<JobState> w = st;
    if (!st->post([w](Napi::Env env) {
          if (auto s = w.lock()) settle(s, env);
        })) {
      // Could not reach the main thread (shutting down): nothing left to settle.
    }
    st->release();
  });
  return handle;
}

}  // namespace qkv::binding

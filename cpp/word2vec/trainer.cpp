#include "word2vec/trainer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"
#include "word2vec/corpus.h"

namespace qkv::w2v {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kSyncWords = 10000;  // a worker publishes its counts and re-reads alpha this often

struct Shared {
  const TrainConfig* cfg;
  int64_t words_total = 0;
  std::atomic<int64_t> words_done{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::condition_variable cv;
  int running = 0;
  std::exception_ptr error;

  double alpha_at(int64_t done) const {
    double frac = words_total > 0 ? static_cast<double>(done) / static_cast<double>(words_total) : 0.0;
    if (frac > 1) frac = 1;
    double a = cfg->alpha - (cfg->alpha - cfg->min_alpha) * frac;
    return a < cfg->min_alpha ? cfg->min_alpha : a;
  }
};

// File input is cut into chunks (byte ranges that start at line starts) that the threads claim one
// at a time, epoch after epoch: a thread that runs slower (a busy core) simply claims fewer. With one
// thread there is one chunk, the whole file, so the token stream is the file's, in order.
struct ChunkCache {
  std::vector<int32_t> ids;   // known words, in order
  std::vector<size_t> ends;   // end of each sentence in ids
  std::vector<int32_t> raw;   // raw words of each sentence (for progress and alpha)
  std::atomic<bool> ready{false};
};

struct FilePlan {
  std::string path;
  std::vector<int64_t> bounds;  // chunk c is [bounds[c], bounds[c + 1])
  int epochs = 1;
  bool cache = false;
  std::unique_ptr<ChunkCache[]> caches;
  std::atomic<int64_t> next{0};  // claims: k -> epoch k / chunks, chunk k % chunks
  int chunks() const { return static_cast<int>(bounds.size()) - 1; }
};

// Chunk boundaries near size * i / n, moved to just after the next newline (within 1 MiB; a corpus
// of one long line is cut between words instead, as TokenReader does).
std::vector<int64_t> plan_bounds(const std::string& path, int64_t size, int n) {
  std::vector<int64_t> b = {0};
  if (n > 1) {
    FILE* f = std::fopen(path.c_str(), "rb");
    std::vector<char> buf(1 << 16);
    for (int i = 1; i < n && f; ++i) {
      int64_t at = size * i / n;
      int64_t pos = at;
      if (::fseeko(f, static_cast<off_t>(at), SEEK_SET) == 0) {
        bool found = false;
        for (int64_t scanned = 0; scanned < (1 << 20) && !found;) {
          size_t got = std::fread(buf.data(), 1, buf.size(), f);
          if (got == 0) break;
          for (size_t j = 0; j < got; ++j)
            if (buf[j] == '\n') {
              pos = at + scanned + static_cast<int64_t>(j) + 1;
              found = true;
              break;
            }
          scanned += static_cast<int64_t>(got);
        }
        if (!found) pos = at;
      }
      if (pos > b.back() && pos < size) b.push_back(pos);
    }
    if (f) std::fclose(f);
  }
  b.push_back(size);
  return b;
}

struct alignas(64) WorkerCounters {
  std::atomic<int64_t> effective{0};
  std::atomic<int64_t> examples{0};
  std::atomic<double> loss{0};
};

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], FreeDeleter>;
AlignedFloats aligned_floats(size_t n) {
  size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  if (!bytes) bytes = 64;
  float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!p) throw std::bad_alloc();
  std::fill(p, p + bytes / sizeof(float), 0.0f);
  return AlignedFloats(p);
}

class Worker {
 public:
  Worker(Model& m, const TrainConfig& cfg, Shared& sh, WorkerCounters& counters, int index, const std::vector<uint64_t>& keep)
      : m_(m), cfg_(cfg), sh_(sh), counters_(counters), keep_(keep),
        rng_(cfg.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(index) + 1) {
    const int stride = m.wv.stride();
    const int maxk = 2 * cfg.window;
    const int maxo = max_outputs(m);
    din_ = aligned_floats(static_cast<size_t>(maxk) * stride);
    scratch_ = aligned_floats(static_cast<size_t>(maxk) * (maxo > 0 ? maxo : 1));
    hidden_ = aligned_floats(stride);
    w_.model = &m;
    w_.cfg = &cfg;
    w_.rng = &rng_;
    w_.in.assign(maxk, nullptr);
    w_.out.assign(maxo > 0 ? maxo : 1, nullptr);
    w_.lab.assign(maxo > 0 ? maxo : 1, 0.0f);
    w_.din = din_.get();
    w_.scratch = scratch_.get();
    w_.hidden = hidden_.get();
    w_.alpha = static_cast<float>(sh.alpha_at(sh.words_done.load()));
    sentence_.reserve(static_cast<size_t>(cfg.max_sentence_length));
    fast_ = cfg.kernel == KernelChoice::Fast;
  }

  // One token of the stream. Unknown words and subsampled ones are dropped before windows are formed.
  bool token(std::string_view tok) {
    ++pending_words_;
    ++raw_in_sentence_;
    int32_t id = m_.vocab.find(tok);
    if (id < 0) return true;
    if (record_) record_->ids.push_back(id);
    keep_or_drop(id);
    return true;
  }

  void keep_or_drop(int32_t id) {
    uint64_t keep = keep_[id];
    if (keep < (uint64_t(1) << 32) && (rng_.next() & 0xffffffffull) >= keep) return;
    sentence_.push_back(id);
  }

  void train_pending() {
    if (sentence_.empty()) return;
    effective_ += static_cast<int64_t>(sentence_.size());
    if (fast_) train_sentence_fast(sentence_.data(), static_cast<int>(sentence_.size()), w_);
    else train_sentence_reference(sentence_.data(), static_cast<int>(sentence_.size()), w_);
    sentence_.clear();
  }

  bool end_sentence() {
    if (record_ && raw_in_sentence_ > 0) {
      record_->ends.push_back(record_->ids.size());
      record_->raw.push_back(raw_in_sentence_);
    }
    raw_in_sentence_ = 0;
    train_pending();
    if (pending_words_ >= kSyncWords) sync();
    return !sh_.stop.load(std::memory_order_relaxed);
  }

  void sync() {
    int64_t done = sh_.words_done.fetch_add(pending_words_, std::memory_order_relaxed) + pending_words_;
    pending_words_ = 0;
    w_.alpha = static_cast<float>(sh_.alpha_at(done));
    counters_.effective.store(effective_, std::memory_order_relaxed);
    counters_.examples.store(w_.examples, std::memory_order_relaxed);
    counters_.loss.store(w_.loss, std::memory_order_relaxed);
  }

  void run_file(FilePlan& plan) {
    const int64_t n = plan.chunks();
    const int64_t total = n * plan.epochs;
    for (;;) {
      if (sh_.stop.load(std::memory_order_relaxed)) break;
      const int64_t k = plan.next.fetch_add(1);
      if (k >= total) break;
      const int64_t epoch = k / n, c = k % n;
      ChunkCache* cache = plan.cache ? &plan.caches[c] : nullptr;
      if (epoch > 0 && cache && cache->ready.load(std::memory_order_acquire)) {
        replay(*cache);
        continue;
      }
      // Epoch 0 records the chunk's ids (later epochs may find them not ready yet on another thread:
      // they read the file again, which gives the same words).
      record_ = epoch == 0 && cache ? cache : nullptr;
      TokenReader reader(plan.path, plan.bounds[c], plan.bounds[c + 1]);
      for_each_sentence(reader, cfg_.max_sentence_length, [&](std::string_view t) { return token(t); },
                        [&]() { return end_sentence(); });
      end_sentence();
      if (record_ && !sh_.stop.load(std::memory_order_relaxed)) record_->ready.store(true, std::memory_order_release);
      record_ = nullptr;
    }
    end_sentence();
    sync();
  }

  // A chunk again from its cached ids: the same stream of known words as reading the file again.
  void replay(const ChunkCache& cache) {
    size_t at = 0;
    for (size_t s = 0; s < cache.ends.size() && !sh_.stop.load(std::memory_order_relaxed); ++s) {
      const size_t e = cache.ends[s];
      for (; at < e; ++at) keep_or_drop(cache.ids[at]);
      pending_words_ += cache.raw[s];
      train_pending();
      if (pending_words_ >= kSyncWords) sync();
    }
  }

  void run_batches(BatchSource& src) {
    std::string batch;
    while (!sh_.stop.load(std::memory_order_relaxed) && src.pop(batch)) {
      TokenReader reader(batch);
      for_each_sentence(reader, cfg_.max_sentence_length, [&](std::string_view t) { return token(t); },
                        [&]() { return end_sentence(); });
    }
    end_sentence();
    sync();
  }

 private:
  Model& m_;
  const TrainConfig& cfg_;
  Shared& sh_;
  WorkerCounters& counters_;
  const std::vector<uint64_t>& keep_;
  Rng rng_;
  SentenceWork w_;
  AlignedFloats din_, scratch_, hidden_;
  std::vector<int32_t> sentence_;
  int64_t pending_words_ = 0;
  int64_t effective_ = 0;
  bool fast_ = true;
  ChunkCache* record_ = nullptr;  // the chunk being recorded (file input, first epoch)
  int32_t raw_in_sentence_ = 0;
};

}  // namespace

TrainStats train(Model& model, const TrainInput& input, const TrainConfig& cfg, int64_t words_per_epoch,
                 TrainMonitor& monitor) {
  validate(cfg, "train");
  if (!model.trainable()) throw Error(ErrorKind::Unsupported, "train: this model has no counts or output weights to continue from");
  if (input.path.empty() && !input.batches) throw Error(ErrorKind::Internal, "train: no input");
  if (words_per_epoch < 0) words_per_epoch = 0;

  Shared sh;
  sh.cfg = &cfg;
  sh.words_total = words_per_epoch * cfg.epochs;
  const std::vector<uint64_t> keep = subsample_keep(model.vocab.counts(), cfg.sample);
  const int T = cfg.threads;
  std::vector<WorkerCounters> counters(T);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < T; ++t) workers.push_back(std::make_unique<Worker>(model, cfg, sh, counters[t], t, keep));

  FilePlan plan;
  if (!input.path.empty()) {
    const int64_t size = file_size(input.path);
    plan.path = input.path;
    plan.epochs = cfg.epochs;
    // One chunk per thread would leave a fast thread idle at the end of each epoch; 16 per thread
    // (at least 256 KiB each) keeps all busy.
    int n = T == 1 ? 1 : static_cast<int>(std::max<int64_t>(T, std::min<int64_t>(16 * T, size / (256 * 1024))));
    plan.bounds = plan_bounds(input.path, size, n);
    plan.cache = cfg.epochs > 1 && cfg.cache_bytes > 0 && words_per_epoch * 8 <= cfg.cache_bytes;
    if (plan.cache) plan.caches.reset(new ChunkCache[plan.chunks()]);
  }

  const auto start = Clock::now();
  std::vector<std::thread> threads;
  sh.running = T;
  for (int t = 0; t < T; ++t) {
    threads.emplace_back([&, t]() {
      try {
        if (!input.path.empty()) {
          workers[t]->run_file(plan);
        } else {
          workers[t]->run_batches(*input.batches);
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(sh.mutex);
        if (!sh.error) sh.error = std::current_exception();
        sh.stop = true;
      }
      std::lock_guard<std::mutex> lock(sh.mutex);
      --sh.running;
      sh.cv.notify_all();
    });
  }

  // Monitor: progress reports and aborts, from this thread.
  double last_loss = 0;
  int64_t last_examples = 0;
  auto report = [&](bool final) {
    Progress p;
    double loss = 0;
    int64_t examples = 0;
    for (auto& c : counters) {
      loss += c.loss.load(std::memory_order_relaxed);
      examples += c.examples.load(std::memory_order_relaxed);
    }
    p.words_done = final ? sh.words_done.load() : std::min(sh.words_done.load(), sh.words_total);
    p.words_total = sh.words_total;
    p.epoch = words_per_epoch > 0 ? static_cast<int>(std::min<int64_t>(cfg.epochs, (p.words_done - (final ? 1 : 0)) / words_per_epoch + 1)) : 1;
    if (p.epoch < 1) p.epoch = 1;
    p.alpha = sh.alpha_at(p.words_done);
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    p.words_per_sec = secs > 0 ? static_cast<double>(p.words_done) / secs : 0;
    p.loss = examples > last_examples ? (loss - last_loss) / static_cast<double>(examples - last_examples) : 0;
    if (examples > last_examples) {
      last_loss = loss;
      last_examples = examples;
    }
    monitor.progress(p);
  };
  {
    std::unique_lock<std::mutex> lock(sh.mutex);
    auto interval = std::chrono::duration<double>(cfg.report_interval_s > 0 ? cfg.report_interval_s : 0.05);
    auto next = Clock::now() + std::chrono::duration_cast<Clock::duration>(interval);
    while (sh.running > 0) {
      sh.cv.wait_until(lock, std::min(next, Clock::now() + std::chrono::milliseconds(20)));
      if (sh.running == 0) break;
      lock.unlock();
      if (monitor.aborted()) sh.stop = true;
      if (Clock::now() >= next && !sh.stop) {
        if (cfg.report_interval_s > 0) report(false);
        next = Clock::now() + std::chrono::duration_cast<Clock::duration>(interval);
      }
      lock.lock();
    }
  }
  for (auto& th : threads) th.join();
  if (sh.error) std::rethrow_exception(sh.error);
  if (monitor.aborted()) throw Error(ErrorKind::Aborted, "train: aborted");

  TrainStats st;
  st.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  st.words = sh.words_done.load();
  double loss = 0;
  for (auto& c : counters) {
    st.effective_words += c.effective.load();
    st.examples += c.examples.load();
    loss += c.loss.load();
  }
  st.loss = st.examples > 0 ? loss / static_cast<double>(st.examples) : 0;
  st.words_per_sec = st.seconds > 0 ? static_cast<double>(st.words) / st.seconds : 0;
  report(true);
  model.trained_words += st.words;
  model.last_train = cfg;
  model.has_last_train = true;
  model.invalidate_unit();
  return st;
}

}  // namespace qkv::w2v

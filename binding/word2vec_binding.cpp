// word2vec: N-API glue over cpp/word2vec, keeping heavy work off the event loop. Training, loading, saving and evaluations
// run off the event loop (training as a progress job, see progress_job.h); similarity queries are
// synchronous (one pass over the vocabulary, on the thread pool for large ones).
//
// A model is an opaque External (type-tagged) holding a shared_ptr to the core model, so that a
// running job keeps the model alive even if JavaScript drops or disposes its handle meanwhile.
#include <chrono>
#include <cmath>
#include <cstring>

#include "binding.h"
#include "core/thread_pool.h"
#include "progress_job.h"
#include "word2vec/evaluate.h"
#include "word2vec/format_qkv.h"
#include "word2vec/format_word2vec.h"
#include "io/json.h"
#include "word2vec/model.h"
#include "word2vec/scan.h"
#include "word2vec/similarity.h"
#include "word2vec/trainer.h"

namespace qkv::binding {

namespace {

using w2v::Model;

constexpr napi_type_tag kModelTag = {0x71b9c0d4a5e84f21ULL, 0x9d3e57a1c2b64f08ULL};

struct ModelBox {
  std::shared_ptr<Model> model;
  std::atomic<int> training{0};
  bool disposed = false;
  int64_t reported_bytes = 0;
};

void report_memory(Napi::Env env, ModelBox* box) {
  int64_t now = box->model ? static_cast<int64_t>(box->model->bytes()) : 0;
  if (now != box->reported_bytes) {
    Napi::MemoryManagement::AdjustExternalMemory(env, now - box->reported_bytes);
    box->reported_bytes = now;
  }
}

Napi::Value wrap_model(Napi::Env env, std::shared_ptr<Model> m) {
  auto* box = new ModelBox();
  box->model = std::move(m);
  auto ext = tagged_external(
      env, box,
      [](Napi::Env e, ModelBox* b) {
        if (b->reported_bytes) Napi::MemoryManagement::AdjustExternalMemory(e, -b->reported_bytes);
        delete b;
      },
      &kModelTag);
  report_memory(env, box);
  return ext;
}

ModelBox* unwrap_box(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsExternal()) throw_type(std::string(op) + ": not a word2vec model handle");
  auto ext = info[i].As<Napi::External<ModelBox>>();
  if (!ext.CheckTypeTag(&kModelTag)) throw_type(std::string(op) + ": not a word2vec model handle");
  return ext.Data();
}

// The model of argument i, checked: not disposed, and (unless `while_training`) not training.
std::shared_ptr<Model> unwrap(const Napi::CallbackInfo& info, size_t i, const char* op, bool while_training = false) {
  ModelBox* box = unwrap_box(info, i, op);
  if (box->disposed || !box->model) throw Error(ErrorKind::Disposed, std::string(op) + ": the model has been disposed");
  if (!while_training && box->training.load() > 0)
    throw Error(ErrorKind::Unsupported, std::string(op) + ": the model is training; await train() first");
  return box->model;
}

// ---- options -------------------------------------------------------------------------------------
int64_t opt_int(const Napi::Object& o, const char* key, int64_t fallback, const char* op, int64_t lo, int64_t hi) {
  Napi::Value v = get(o, key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw_type(std::string(op) + ": option " + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi))
    throw_range(std::string(op) + ": option " + key + " must be an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "], got " + Napi::Value(v).ToString().Utf8Value());
  return static_cast<int64_t>(d);
}

static std::string number_text(double v) {  // shortest round-trip form, as JSON writes it
  std::string s;
  json::write_number(s, v);
  return s;
}

double opt_real(const Napi::Object& o, const char* key, double fallback, const char* op, double lo, double hi) {
  double d = opt_number(o, key, fallback, op);
  if (!(d >= lo && d <= hi))
    throw_range(std::string(op) + ": option " + key + " must be in [" + number_text(lo) + ", " + number_text(hi) +
                "], got " + std::to_string(d));
  return d;
}

void parse_model_config(const Napi::Object& o, w2v::ModelConfig& c, const char* op) {
  c.dim = static_cast<int>(opt_int(o, "dim", c.dim, op, 1, 100000));
  c.negative = static_cast<int>(opt_int(o, "negative", c.negative, op, 0, 1000));
  c.hs = opt_bool(o, "hs", c.hs, op);
  c.min_count = opt_int(o, "minCount", c.min_count, op, 1, INT64_C(9007199254740991));
  c.max_vocab_size = opt_int(o, "maxVocabSize", c.max_vocab_size, op, 0, INT32_MAX);
  c.ns_exponent = opt_real(o, "nsExponent", c.ns_exponent, op, -10, 10);
  w2v::validate(c, op);
}

void parse_train_config(const Napi::Object& o, w2v::TrainConfig& t, const char* op) {
  std::string arch = opt_string(o, "architecture", w2v::architecture_name(t.arch), op);
  if (arch == "skipgram") t.arch = w2v::Architecture::SkipGram;
  else if (arch == "cbow") t.arch = w2v::Architecture::CBOW;
  else throw_range(std::string(op) + ": option architecture must be 'skipgram' or 'cbow', got '" + arch + "'");
  t.window = static_cast<int>(opt_int(o, "window", t.window, op, 1, 1000));
  t.sample = opt_real(o, "sample", t.sample, op, 0, 0.999999);
  t.epochs = static_cast<int>(opt_int(o, "epochs", t.epochs, op, 1, 100000));
  t.alpha = opt_real(o, "alpha", t.alpha, op, 1e-12, 10);
  t.min_alpha = opt_real(o, "minAlpha", t.min_alpha, op, 0, 10);
  if (t.min_alpha > t.alpha) throw_range(std::string(op) + ": option minAlpha must not exceed alpha");
  t.threads = static_cast<int>(opt_int(o, "threads", default_thread_count(), op, 1, 1024));
  t.seed = static_cast<uint64_t>(opt_int(o, "seed", 1, op, 0, INT64_C(9007199254740991)));
  t.max_sentence_length = static_cast<int>(opt_int(o, "maxSentenceLength", t.max_sentence_length, op, 1, 1000000));
  t.cbow_mean = opt_bool(o, "cbowMean", t.cbow_mean, op);
  std::string kernel = opt_string(o, "kernel", "fast", op);
  if (kernel == "fast") t.kernel = w2v::KernelChoice::Fast;
  else if (kernel == "reference") t.kernel = w2v::KernelChoice::Reference;
  else throw_range(std::string(op) + ": option kernel must be 'fast' or 'reference', got '" + kernel + "'");
  t.report_interval_s = opt_real(o, "progressInterval", 0.1, op, 0, 3600);
  t.cache_bytes = opt_int(o, "cacheBytes", t.cache_bytes, op, 0, INT64_C(9007199254740991));
  w2v::validate(t, op);
}

// ---- training ------------------------------------------------------------------------------------
struct FeedItem {
  std::string text;
  bool end_of_pass = false;
};
using Feed = FeedQueue<FeedItem>;

// One pass of the feed: batches until the producer's end-of-pass marker (or the end).
class PassSource : public w2v::BatchSource {
 public:
  explicit PassSource(Feed& f) : f_(f) {}
  bool pop(std::string& out) override {
    FeedItem it;
    if (!f_.pop(it) || it.end_of_pass) return false;
    out = std::move(it.text);
    return true;
  }

 private:
  Feed& f_;
};

// The training passes: batches up to the `passes`-th end-of-pass marker (popped concurrently by the
// training threads).
class StreamSource : public w2v::BatchSource {
 public:
  StreamSource(Feed& f, int passes) : f_(f), passes_(passes) {}
  bool pop(std::string& out) override {
    FeedItem it;
    while (seen_.load() < passes_ && f_.pop(it)) {
      if (it.end_of_pass) {
        seen_.fetch_add(1);
        continue;
      }
      out = std::move(it.text);
      return true;
    }
    return false;
  }

 private:
  Feed& f_;
  const int passes_;
  std::atomic<int> seen_{0};
};

class Monitor : public w2v::TrainMonitor {
 public:
  explicit Monitor(JobControl& ctl) : ctl_(ctl) {}
  bool aborted() const override { return ctl_.aborted(); }
  void progress(const w2v::Progress& p) override {
    ctl_.report({{"epoch", static_cast<double>(p.epoch)},
                 {"wordsDone", static_cast<double>(p.words_done)},
                 {"wordsTotal", static_cast<double>(p.words_total)},
                 {"alpha", p.alpha},
                 {"wordsPerSec", p.words_per_sec},
                 {"loss", p.loss}});
  }

 private:
  JobControl& ctl_;
};

struct TrainOutcome {
  std::shared_ptr<Model> model;  // set when the job built a new model
  w2v::TrainStats stats;
  double vocab_seconds = 0;
};

// w2vTrain(model | null, source: { path } | { feed: true }, options, onProgress?)
//   → { promise, abort, push?, endPass?, close? }
Napi::Value w2v_train(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "Word2Vec.train";
    Napi::Env env = info.Env();
    ModelBox* box = nullptr;
    std::shared_ptr<Model> existing;
    if (info.Length() > 0 && !info[0].IsNull() && !info[0].IsUndefined()) {
      existing = unwrap(info, 0, op);
      box = unwrap_box(info, 0, op);
      if (!existing->trainable())
        throw Error(ErrorKind::Unsupported,
                    std::string(op) + ": this model has no counts or output weights (it was loaded from a word2vec file); "
                                      "only models saved in the 'qkv' format can continue training");
    }
    if (info.Length() < 2 || !info[1].IsObject()) throw_type(std::string(op) + ": source must be an object");
    Napi::Object src = info[1].As<Napi::Object>();
    std::string path;
    bool feed_mode = false;
    const Napi::Value p = get(src, "path");
    if (!p.IsUndefined()) {
      if (!p.IsString()) throw_type(std::string(op) + ": the corpus path must be a string");
      path = p.As<Napi::String>().Utf8Value();
      if (path.empty()) throw_range(std::string(op) + ": the corpus path is empty");
    } else {
      feed_mode = true;
    }
    Napi::Object opts = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
    w2v::ModelConfig mc;
    if (existing) mc = existing->cfg;
    else parse_model_config(opts, mc, op);
    w2v::TrainConfig tc;
    if (existing && existing->has_last_train) {
      tc = existing->last_train;
      tc.kernel = w2v::KernelChoice::Fast;
    }
    parse_train_config(opts, tc, op);
    if (existing) {
      // The vocabulary and the weights' shapes are fixed for a model's life.
      w2v::ModelConfig asked = mc;
      parse_model_config(opts, asked, op);
      if (asked.dim != mc.dim || asked.negative != mc.negative || asked.hs != mc.hs || asked.min_count != mc.min_count ||
          asked.max_vocab_size != mc.max_vocab_size)
        throw_range(std::string(op) + ": dim, negative, hs, minCount and maxVocabSize are fixed by the model (dim " +
                    std::to_string(mc.dim) + ", negative " + std::to_string(mc.negative) + ", hs " + (mc.hs ? "true" : "false") +
                    ", minCount " + std::to_string(mc.min_count) + ")");
    }
    if (tc.kernel == w2v::KernelChoice::Reference) {
      // fine: the plain loops, for tests
    }
    Napi::Value on_progress = info.Length() > 3 ? info[3] : env.Undefined();

    auto outcome = std::make_shared<TrainOutcome>();
    std::shared_ptr<Feed> feed;
    ProgressJobSpec spec;
    spec.name = op;
    spec.on_progress = on_progress;
    // A holder so that the work lambda can reach the feed created in setup.
    auto feed_slot = std::make_shared<std::shared_ptr<Feed>>();
    spec.work = [existing, path, feed_mode, mc, tc, outcome, feed_slot](JobControl& ctl) {
      auto t0 = std::chrono::steady_clock::now();
      std::shared_ptr<Model> model = existing;
      int64_t words_per_epoch = 0;
      w2v::ScanOptions so;
      so.threads = tc.threads;
      so.max_sentence_length = tc.max_sentence_length;
      so.prune_above = mc.max_vocab_size > 0 ? static_cast<size_t>(std::max<int64_t>(10 * mc.max_vocab_size, 1000000)) : 0;
      so.count_only = static_cast<bool>(existing);
      so.aborted = [&ctl]() { return ctl.aborted(); };
      w2v::VocabCounter counter;
      if (feed_mode) {
        PassSource pass(**feed_slot);
        counter = w2v::scan_batches(pass, so);
      } else {
        counter = w2v::scan_file(path, so);
      }
      ctl.throw_if_aborted();
      words_per_epoch = counter.total_words();
      if (!model) {
        w2v::Vocab vocab = counter.finalize(mc.min_count, mc.max_vocab_size);
        if (vocab.size() == 0)
          throw_range(std::string("Word2Vec.train: the vocabulary is empty: no word occurs minCount=") +
                      std::to_string(mc.min_count) + " times in the " + std::to_string(counter.total_words()) + " words of the input");
        model = std::make_shared<Model>();
        model->init(std::move(vocab), mc, tc.seed);
        model->corpus_words = counter.total_words();
        model->corpus_sentences = counter.sentences();
        outcome->model = model;
      }
      outcome->vocab_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (words_per_epoch == 0) return;  // nothing to train on
      w2v::TrainInput input;
      std::unique_ptr<StreamSource> stream;
      if (feed_mode) {
        stream = std::make_unique<StreamSource>(**feed_slot, tc.epochs);
        input.batches = stream.get();
      } else {
        input.path = path;
      }
      Monitor monitor(ctl);
      outcome->stats = w2v::train(*model, input, tc, words_per_epoch, monitor);
    };
    spec.done = [outcome, box](Napi::Env env) -> Napi::Value {
      Napi::Object r = Napi::Object::New(env);
      if (outcome->model) r.Set("model", wrap_model(env, outcome->model));
      const auto& s = outcome->stats;
      r.Set("words", Napi::Number::New(env, static_cast<double>(s.words)));
      r.Set("effectiveWords", Napi::Number::New(env, static_cast<double>(s.effective_words)));
      r.Set("seconds", Napi::Number::New(env, s.seconds));
      r.Set("wordsPerSec", Napi::Number::New(env, s.words_per_sec));
      r.Set("loss", Napi::Number::New(env, s.loss));
      r.Set("vocabSeconds", Napi::Number::New(env, outcome->vocab_seconds));
      if (box) report_memory(env, box);
      return r;
    };
    if (box) box->training.fetch_add(1);
    Napi::Object handle = start_progress_job(env, std::move(spec), [&](Napi::Object h, std::shared_ptr<JobControl> ctl) {
      if (box) ctl->on_settle([box]() { box->training.fetch_sub(1); });
      if (!feed_mode) return;
      auto f = std::make_shared<Feed>(ctl, 8);
      f->attach();
      *feed_slot = f;
      std::weak_ptr<Feed> weak = f;
      h.Set("push", Napi::Function::New(env, [f](const Napi::CallbackInfo& ci) -> Napi::Value {
              QKV_GUARD(ci, {
                std::string text = arg_string(ci, 0, "Word2Vec.train", "batch");
                return f->push(ci.Env(), FeedItem{std::move(text), false});
              });
            }));
      h.Set("endPass", Napi::Function::New(env, [f](const Napi::CallbackInfo& ci) -> Napi::Value {
              QKV_GUARD(ci, { return f->push(ci.Env(), FeedItem{std::string(), true}); });
            }));
      h.Set("close", Napi::Function::New(env, [weak](const Napi::CallbackInfo& ci) -> Napi::Value {
              if (auto s = weak.lock()) s->close();
              return ci.Env().Undefined();
            }));
    });
    return handle;
  });
}

// ---- load / save ---------------------------------------------------------------------------------
w2v::FileFormat parse_format(const std::string& s, const char* op, bool allow_auto) {
  if (s == "word2vec-text") return w2v::FileFormat::Word2VecText;
  if (s == "word2vec-binary") return w2v::FileFormat::Word2VecBinary;
  if (s == "qkv") return w2v::FileFormat::Qkv;
  if (allow_auto && s == "auto") return w2v::FileFormat::Auto;
  throw_range(std::string(op) + ": format must be 'word2vec-text', 'word2vec-binary' or 'qkv'" + (allow_auto ? " (or 'auto')" : "") +
              ", got '" + s + "'");
}

// w2vLoad(path, format) → Promise<{ model, format }>
Napi::Value w2v_load(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "Word2Vec.load";
    std::string path = arg_string(info, 0, op, "path");
    w2v::FileFormat fmt = info.Length() > 1 && !info[1].IsUndefined() ? parse_format(arg_string(info, 1, op, "format"), op, true)
                                                                      : w2v::FileFormat::Auto;
    auto result = std::make_shared<std::shared_ptr<Model>>();
    auto used = std::make_shared<w2v::FileFormat>(fmt);
    AsyncJob job;
    job.work = [path, fmt, result, used]() {
      w2v::FileFormat f = fmt == w2v::FileFormat::Auto ? w2v::detect_format(path) : fmt;
      *used = f;
      if (f == w2v::FileFormat::Qkv) *result = std::shared_ptr<Model>(w2v::load_qkv(path));
      else *result = std::shared_ptr<Model>(w2v::load_word2vec(path, f));
    };
    job.done = [result, used](Napi::Env env) -> Napi::Value {
      Napi::Object r = Napi::Object::New(env);
      r.Set("model", wrap_model(env, *result));
      r.Set("format", Napi::String::New(env, w2v::format_name(*used)));
      return r;
    };
    return queue_job(info.Env(), std::move(job));
  });
}

// w2vSave(model, path, format) → Promise<void>
Napi::Value w2v_save(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "Word2Vec.save";
    auto m = unwrap(info, 0, op);
    std::string path = arg_string(info, 1, op, "path");
    w2v::FileFormat fmt = parse_format(arg_string(info, 2, op, "format"), op, false);
    if (fmt == w2v::FileFormat::Qkv && m->cfg.negative == 0 && !m->cfg.hs)
      throw Error(ErrorKind::Unsupported, std::string(op) +
                                              ": a model loaded from a word2vec file has no output weights; save it as "
                                              "'word2vec-text' or 'word2vec-binary'");
    AsyncJob job;
    job.work = [m, path, fmt]() {
      if (fmt == w2v::FileFormat::Qkv) w2v::save_qkv(*m, path);
      else w2v::save_word2vec(*m, path, fmt == w2v::FileFormat::Word2VecBinary);
    };
    return queue_job(info.Env(), std::move(job));
  });
}

// ---- queries -------------------------------------------------------------------------------------
Napi::Value w2v_info(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    auto m = unwrap(info, 0, "Word2Vec.info", true);
    Napi::Env env = info.Env();
    Napi::Object r = Napi::Object::New(env);
    r.Set("size", Napi::Number::New(env, m->vocab.size()));
    r.Set("dim", Napi::Number::New(env, m->cfg.dim));
    r.Set("negative", Napi::Number::New(env, m->cfg.negative));
    r.Set("hs", Napi::Boolean::New(env, m->cfg.hs));
    r.Set("minCount", Napi::Number::New(env, static_cast<double>(m->cfg.min_count)));
    r.Set("maxVocabSize", Napi::Number::New(env, static_cast<double>(m->cfg.max_vocab_size)));
    r.Set("nsExponent", Napi::Number::New(env, m->cfg.ns_exponent));
    r.Set("trainable", Napi::Boolean::New(env, m->trainable()));
    r.Set("corpusWords", Napi::Number::New(env, static_cast<double>(m->corpus_words)));
    r.Set("trainedWords", Napi::Number::New(env, static_cast<double>(m->trained_words)));
    if (m->has_last_train) {
      r.Set("architecture", Napi::String::New(env, w2v::architecture_name(m->last_train.arch)));
      r.Set("epochs", Napi::Number::New(env, m->last_train.epochs));
    }
    return r;
  });
}

Napi::Value w2v_words(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    auto m = unwrap(info, 0, "Word2Vec.vocab", true);
    Napi::Env env = info.Env();
    Napi::Array a = Napi::Array::New(env, m->vocab.size());
    for (int32_t i = 0; i < m->vocab.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::String::New(env, m->vocab.word(i)));
    return a;
  });
}

Napi::Value w2v_counts(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    auto m = unwrap(info, 0, "Word2Vec.vocab", true);
    auto a = created(Napi::Float64Array::New(info.Env(), static_cast<size_t>(m->vocab.size())));
    for (int32_t i = 0; i < m->vocab.size(); ++i) a[i] = static_cast<double>(m->vocab.count(i));
    return a;
  });
}

Napi::Value w2v_index(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    auto m = unwrap(info, 0, "Word2Vec.vector", true);
    std::string w = arg_string(info, 1, "Word2Vec", "word");
    return Napi::Number::New(info.Env(), m->vocab.find(w));
  });
}

int32_t arg_index(const Napi::CallbackInfo& info, size_t i, const Model& m, const char* op) {
  int64_t v = arg_int(info, i, op, "index");
  if (v < 0 || v >= m.vocab.size()) throw_range(std::string(op) + ": word index " + std::to_string(v) + " out of range");
  return static_cast<int32_t>(v);
}

std::vector<int32_t> arg_indices(const Napi::CallbackInfo& info, size_t i, const Model& m, const char* op) {
  std::vector<int32_t> out;
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return out;
  if (!info[i].IsArray()) throw_type(std::string(op) + ": expected an array of word indices");
  Napi::Array a = info[i].As<Napi::Array>();
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value v = get(a, k);
    if (!v.IsNumber()) throw_type(std::string(op) + ": expected an array of word indices");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d < m.vocab.size()) || std::floor(d) != d) throw_range(std::string(op) + ": word index out of range");
    out.push_back(static_cast<int32_t>(d));
  }
  return out;
}

Napi::Value w2v_vector(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    auto m = unwrap(info, 0, "Word2Vec.vector");
    int32_t i = arg_index(info, 1, *m, "Word2Vec.vector");
    auto a = created(Napi::Float32Array::New(info.Env(), static_cast<size_t>(m->cfg.dim)));
    std::memcpy(a.Data(), m->wv.row(i), sizeof(float) * m->cfg.dim);
    return a;
  });
}

Napi::Array scored_array(Napi::Env env, const Model& m, const std::vector<w2v::Scored>& r) {
  Napi::Array out = Napi::Array::New(env, r.size());
  for (size_t k = 0; k < r.size(); ++k) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("word", Napi::String::New(env, m.vocab.word(r[k].index)));
    o.Set("similarity", Napi::Number::New(env, r[k].score));
    out.Set(static_cast<uint32_t>(k), o);
  }
  return out;
}

// Runs a query now, or (async) on a worker thread with a Promise of the result.
Napi::Value run_query(Napi::Env env, bool async, std::shared_ptr<Model> m, std::function<std::vector<w2v::Scored>()> q) {
  if (!async) return scored_array(env, *m, q());
  auto result = std::make_shared<std::vector<w2v::Scored>>();
  AsyncJob job;
  job.work = [q, result]() { *result = q(); };
  job.done = [m, result](Napi::Env e) -> Napi::Value { return scored_array(e, *m, *result); };
  return queue_job(env, std::move(job));
}

// w2vMostSimilar(model, positive: number[], negative: number[], topN, restrictVocab, cosmul, async)
Napi::Value w2v_most_similar(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const bool cosmul = info.Length() > 5 && info[5].IsBoolean() && info[5].As<Napi::Boolean>().Value();
    const bool async = info.Length() > 6 && info[6].IsBoolean() && info[6].As<Napi::Boolean>().Value();
    const char* op = cosmul ? "Word2Vec.mostSimilarCosmul" : "Word2Vec.mostSimilar";
    auto m = unwrap(info, 0, op);
    auto pos = arg_indices(info, 1, *m, op);
    auto neg = arg_indices(info, 2, *m, op);
    if (pos.empty() && neg.empty()) throw_range(std::string(op) + ": give at least one word");
    int64_t topn = arg_int(info, 3, op, "topN");
    int64_t restrict_vocab = arg_int(info, 4, op, "restrictVocab");
    if (topn < 0 || topn > INT32_MAX) throw_range(std::string(op) + ": topN must be a non-negative integer");
    return run_query(info.Env(), async, m, [m, pos, neg, topn, restrict_vocab, cosmul]() {
      return cosmul ? w2v::most_similar_cosmul(*m, pos, neg, static_cast<int>(topn), restrict_vocab)
                    : w2v::most_similar(*m, pos, neg, static_cast<int>(topn), restrict_vocab);
    });
  });
}

// w2vMostSimilarVector(model, vector: Float32Array, topN, restrictVocab, async)
Napi::Value w2v_most_similar_vector(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "Word2Vec.mostSimilar";
    auto m = unwrap(info, 0, op);
    if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw_type(std::string(op) + ": the vector must be a Float32Array");
    auto v = info[1].As<Napi::Float32Array>();
    if (static_cast<int64_t>(v.ElementLength()) != m->cfg.dim)
      throw_range(std::string(op) + ": the vector has " + std::to_string(v.ElementLength()) + " elements, the model " +
                  std::to_string(m->cfg.dim));
    int64_t topn = arg_int(info, 2, op, "topN");
    int64_t restrict_vocab = arg_int(info, 3, op, "restrictVocab");
    if (topn < 0 || topn > INT32_MAX) throw_range(std::string(op) + ": topN must be a non-negative integer");
    const bool async = info.Length() > 4 && info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
    auto copy = std::make_shared<std::vector<float>>(v.Data(), v.Data() + v.ElementLength());
    return run_query(info.Env(), async, m, [m, copy, topn, restrict_vocab]() {
      return w2v::most_similar_to_vector(*m, copy->data(), static_cast<int>(topn), restrict_vocab);
    });
  });
}

Napi::Value w2v_similarity(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    auto m = unwrap(info, 0, "Word2Vec.similarity");
    int32_t a = arg_index(info, 1, *m, "Word2Vec.similarity");
    int32_t b = arg_index(info, 2, *m, "Word2Vec.similarity");
    return Napi::Number::New(info.Env(), w2v::similarity(*m, a, b));
  });
}

Napi::Value w2v_doesnt_match(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    auto m = unwrap(info, 0, "Word2Vec.doesntMatch");
    auto idx = arg_indices(info, 1, *m, "Word2Vec.doesntMatch");
    return Napi::Number::New(info.Env(), w2v::doesnt_match(*m, idx));
  });
}

// ---- evaluations (async: files, and a pass over the vocabulary per question) ---------------------
std::string arg_word(const Napi::Value& v, const char* op) {
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  if (v.IsNumber()) return v.ToString().Utf8Value();
  throw_type(std::string(op) + ": words must be strings");
}

// w2vEvaluateWordPairs(model, path | [a, b, score][], restrictVocab, caseInsensitive) → Promise
Napi::Value w2v_evaluate_pairs(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "Word2Vec.evaluateWordPairs";
    auto m = unwrap(info, 0, op);
    auto pairs = std::make_shared<std::vector<w2v::WordPair>>();
    std::string path;
    if (info.Length() > 1 && info[1].IsString()) {
      path = info[1].As<Napi::String>().Utf8Value();
    } else if (info.Length() > 1 && info[1].IsArray()) {
      Napi::Array a = info[1].As<Napi::Array>();
      for (uint32_t k = 0; k < a.Length(); ++k) {
        Napi::Value e = get(a, k);
        if (!e.IsArray() || e.As<Napi::Array>().Length() != 3)
          throw_type(std::string(op) + ": pairs must be [word1, word2, score] arrays");
        Napi::Array t = e.As<Napi::Array>();
        Napi::Value s = get(t, 2u);
        if (!s.IsNumber()) throw_type(std::string(op) + ": a pair's score must be a number");
        pairs->push_back({arg_word(get(t, 0u), op), arg_word(get(t, 1u), op), s.As<Napi::Number>().DoubleValue()});
      }
    } else {
      throw_type(std::string(op) + ": expected a file path or an array of [word1, word2, score]");
    }
    int64_t restrict_vocab = arg_int(info, 2, op, "restrictVocab");
    bool ci = arg_bool(info, 3, op, "caseInsensitive");
    auto result = std::make_shared<w2v::PairsResult>();
    AsyncJob job;
    job.work = [m, pairs, path, restrict_vocab, ci, result]() {
      if (!path.empty()) *pairs = w2v::read_word_pairs(path);
      *result = w2v::evaluate_word_pairs(*m, *pairs, restrict_vocab, ci);
    };
    job.done = [result](Napi::Env env) -> Napi::Value {
      Napi::Object r = Napi::Object::New(env);
      r.Set("pearson", Napi::Number::New(env, result->pearson));
      r.Set("spearman", Napi::Number::New(env, result->spearman));
      r.Set("pairs", Napi::Number::New(env, static_cast<double>(result->pairs)));
      r.Set("oovPairs", Napi::Number::New(env, static_cast<double>(result->oov)));
      return r;
    };
    return queue_job(info.Env(), std::move(job));
  });
}

// w2vEvaluateAnalogies(model, path | [a, b, c, d, section?][], restrictVocab, caseInsensitive) → Promise
Napi::Value w2v_evaluate_analogies(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "Word2Vec.evaluateAnalogies";
    auto m = unwrap(info, 0, op);
    auto qs = std::make_shared<std::vector<w2v::Question>>();
    auto names = std::make_shared<std::vector<std::string>>();
    std::string path;
    if (info.Length() > 1 && info[1].IsString()) {
      path = info[1].As<Napi::String>().Utf8Value();
    } else if (info.Length() > 1 && info[1].IsArray()) {
      Napi::Array a = info[1].As<Napi::Array>();
      for (uint32_t k = 0; k < a.Length(); ++k) {
        Napi::Value e = get(a, k);
        if (!e.IsArray() || (e.As<Napi::Array>().Length() != 4 && e.As<Napi::Array>().Length() != 5))
          throw_type(std::string(op) + ": questions must be [a, b, c, d] (or [a, b, c, d, section]) arrays");
        Napi::Array t = e.As<Napi::Array>();
        std::string section = t.Length() == 5 ? arg_word(get(t, 4u), op) : std::string("questions");
        int32_t s = -1;
        for (size_t n = 0; n < names->size(); ++n)
          if ((*names)[n] == section) s = static_cast<int32_t>(n);
        if (s < 0) {
          names->push_back(section);
          s = static_cast<int32_t>(names->size() - 1);
        }
        qs->push_back({arg_word(get(t, 0u), op), arg_word(get(t, 1u), op), arg_word(get(t, 2u), op), arg_word(get(t, 3u), op), s});
      }
    } else {
      throw_type(std::string(op) + ": expected a file path or an array of [a, b, c, d] questions");
    }
    int64_t restrict_vocab = arg_int(info, 2, op, "restrictVocab");
    bool ci = arg_bool(info, 3, op, "caseInsensitive");
    auto result = std::make_shared<w2v::AnalogyResult>();
    AsyncJob job;
    job.work = [m, qs, names, path, restrict_vocab, ci, result]() {
      if (!path.empty()) w2v::read_analogies(path, qs.get(), names.get());
      *result = w2v::evaluate_analogies(*m, *qs, *names, restrict_vocab, ci);
    };
    job.done = [result](Napi::Env env) -> Napi::Value {
      Napi::Object r = Napi::Object::New(env);
      r.Set("accuracy", Napi::Number::New(env, result->accuracy));
      Napi::Array secs = Napi::Array::New(env, result->sections.size());
      for (size_t k = 0; k < result->sections.size(); ++k) {
        const auto& s = result->sections[k];
        Napi::Object o = Napi::Object::New(env);
        o.Set("section", Napi::String::New(env, s.name));
        o.Set("correct", Napi::Number::New(env, static_cast<double>(s.correct)));
        o.Set("incorrect", Napi::Number::New(env, static_cast<double>(s.incorrect)));
        int64_t n = s.correct + s.incorrect;
        o.Set("accuracy", Napi::Number::New(env, n ? static_cast<double>(s.correct) / static_cast<double>(n) : 0.0));
        secs.Set(static_cast<uint32_t>(k), o);
      }
      r.Set("sections", secs);
      r.Set("covered", Napi::Number::New(env, static_cast<double>(result->covered)));
      r.Set("total", Napi::Number::New(env, static_cast<double>(result->total)));
      return r;
    };
    return queue_job(info.Env(), std::move(job));
  });
}

Napi::Value w2v_dispose(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    ModelBox* box = unwrap_box(info, 0, "Word2Vec.dispose");
    if (!box->disposed) {
      box->disposed = true;
      box->model.reset();  // a running job keeps its own reference until it ends
      report_memory(info.Env(), box);
    }
    return info.Env().Undefined();
  });
}

}  // namespace

void init_word2vec(Napi::Env env, Napi::Object exports) {
  exports.Set("w2vTrain", Napi::Function::New(env, w2v_train, "w2vTrain"));
  exports.Set("w2vLoad", Napi::Function::New(env, w2v_load, "w2vLoad"));
  exports.Set("w2vSave", Napi::Function::New(env, w2v_save, "w2vSave"));
  exports.Set("w2vInfo", Napi::Function::New(env, w2v_info, "w2vInfo"));
  exports.Set("w2vWords", Napi::Function::New(env, w2v_words, "w2vWords"));
  exports.Set("w2vCounts", Napi::Function::New(env, w2v_counts, "w2vCounts"));
  exports.Set("w2vIndex", Napi::Function::New(env, w2v_index, "w2vIndex"));
  exports.Set("w2vVector", Napi::Function::New(env, w2v_vector, "w2vVector"));
  exports.Set("w2vMostSimilar", Napi::Function::New(env, w2v_most_similar, "w2vMostSimilar"));
  exports.Set("w2vMostSimilarVector", Napi::Function::New(env, w2v_most_similar_vector, "w2vMostSimilarVector"));
  exports.Set("w2vSimilarity", Napi::Function::New(env, w2v_similarity, "w2vSimilarity"));
  exports.Set("w2vDoesntMatch", Napi::Function::New(env, w2v_doesnt_match, "w2vDoesntMatch"));
  exports.Set("w2vEvaluateWordPairs", Napi::Function::New(env, w2v_evaluate_pairs, "w2vEvaluateWordPairs"));
  exports.Set("w2vEvaluateAnalogies", Napi::Function::New(env, w2v_evaluate_analogies, "w2vEvaluateAnalogies"));
  exports.Set("w2vDispose", Napi::Function::New(env, w2v_dispose, "w2vDispose"));
}

}  // namespace qkv::binding

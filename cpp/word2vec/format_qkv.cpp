#include "word2vec/format_qkv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json.h"
#include "io/safetensors.h"

namespace qkv::w2v {

namespace {

using json::Value;

constexpr const char* kSaveOp = "Word2Vec.save";
constexpr const char* kLoadOp = "Word2Vec.load";

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error(ErrorKind::Format, std::string(kLoadOp) + ": " + path + ": " + what);
}

std::string config_json(const ModelConfig& c) {
  Value v = Value::object();
  v.set("dim", Value::integer(c.dim));
  v.set("negative", Value::integer(c.negative));
  v.set("hs", Value::boolean(c.hs));
  v.set("minCount", Value::integer(c.min_count));
  v.set("maxVocabSize", Value::integer(c.max_vocab_size));
  v.set("nsExponent", Value::number(c.ns_exponent));
  return json::dump(v);
}

Value train_json(const TrainConfig& t) {
  Value v = Value::object();
  v.set("architecture", Value::string(architecture_name(t.arch)));
  v.set("window", Value::integer(t.window));
  v.set("sample", Value::number(t.sample));
  v.set("epochs", Value::integer(t.epochs));
  v.set("alpha", Value::number(t.alpha));
  v.set("minAlpha", Value::number(t.min_alpha));
  v.set("threads", Value::integer(t.threads));
  v.set("seed", Value::integer(static_cast<int64_t>(t.seed)));
  v.set("maxSentenceLength", Value::integer(t.max_sentence_length));
  v.set("cbowMean", Value::boolean(t.cbow_mean));
  return v;
}

// The first `rows` rows of a (row-padded) matrix as a dense [rows, dim] float32 tensor.
Tensor to_tensor(const Matrix& m, int64_t rows) {
  std::vector<float> dense(static_cast<size_t>(rows * m.dim()));
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dense.data() + r * m.dim(), m.row(r), sizeof(float) * m.dim());
  return Tensor::from_host(dense.data(), {rows, m.dim()}, DType::F32);
}

const Value& need(const Value& o, const char* key, Value::Type type, const std::string& path, const char* where) {
  const Value* v = o.find(key);
  if (!v) bad(path, std::string(where) + " has no \"" + key + "\"");
  if (v->type() != type) bad(path, std::string(where) + ": \"" + key + "\" has the wrong type");
  return *v;
}

int64_t need_int(const Value& o, const char* key, const std::string& path, const char* where, int64_t lo, int64_t hi) {
  const Value& v = need(o, key, Value::Type::Number, path, where);
  if (!v.is_int()) bad(path, std::string(where) + ": \"" + key + "\" is not an integer");
  int64_t x = v.as_int();
  if (x < lo || x > hi) bad(path, std::string(where) + ": \"" + key + "\" = " + std::to_string(x) + " is out of range");
  return x;
}

Value parse_field(const Value& meta, const char* key, const std::string& path) {
  return json::parse(need(meta, key, Value::Type::String, path, "__metadata__").as_string(), std::string(kLoadOp) + ": " + path + ": " + key);
}

struct Want {
  const char* name;
  Matrix* m;
  int64_t rows;
  bool required;
};

// The qkv.word2vec part of the header: metadata into `m`, and the tensors it implies (names,
// dtypes, shapes). The safetensors layout (offsets, sizes, tiling) is io::read_safetensors_header's.
void read_metadata(const Value& root, const std::string& path, Model& model, std::vector<Want>& wants) {
  if (!root.is_object()) bad(path, "the safetensors header is not a JSON object");
  const Value* meta = root.find("__metadata__");
  if (!meta || !meta->is_object()) bad(path, "no __metadata__: not a qkv word2vec file");
  const Value& format = need(*meta, "format", Value::Type::String, path, "__metadata__");
  if (format.as_string() != "qkv.word2vec") bad(path, "__metadata__.format is '" + format.as_string() + "', not 'qkv.word2vec'");
  const Value& version = need(*meta, "version", Value::Type::String, path, "__metadata__");
  if (version.as_string() != "1") bad(path, "unsupported qkv.word2vec version '" + version.as_string() + "'");

  Model* m = &model;
  const Value cfg = parse_field(*meta, "config", path);
  if (!cfg.is_object()) bad(path, "config is not a JSON object");
  m->cfg.dim = static_cast<int>(need_int(cfg, "dim", path, "config", 1, 100000));
  m->cfg.negative = static_cast<int>(need_int(cfg, "negative", path, "config", 0, 1000));
  m->cfg.hs = need(cfg, "hs", Value::Type::Bool, path, "config").as_bool();
  m->cfg.min_count = need_int(cfg, "minCount", path, "config", 1, INT64_MAX);
  m->cfg.max_vocab_size = need_int(cfg, "maxVocabSize", path, "config", 0, INT64_MAX);
  m->cfg.ns_exponent = need(cfg, "nsExponent", Value::Type::Number, path, "config").as_double();
  if (!(m->cfg.ns_exponent >= -10 && m->cfg.ns_exponent <= 10)) bad(path, "config: nsExponent is out of range");

  const Value words = parse_field(*meta, "vocab", path);
  const Value counts = parse_field(*meta, "counts", path);
  if (!words.is_array() || !counts.is_array()) bad(path, "vocab and counts must be JSON arrays");
  if (words.items().size() != counts.items().size())
    bad(path, "vocab has " + std::to_string(words.items().size()) + " words but counts has " + std::to_string(counts.items().size()));
  const int64_t V = static_cast<int64_t>(words.items().size());
  m->vocab.reserve(static_cast<size_t>(V));
  for (int64_t i = 0; i < V; ++i) {
    const Value& w = words.items()[i];
    const Value& c = counts.items()[i];
    if (!w.is_string() || w.as_string().empty()) bad(path, "vocab entry " + std::to_string(i) + " is not a non-empty string");
    if (!c.is_int() || c.as_int() < 0) bad(path, "count " + std::to_string(i) + " is not a non-negative integer");
    if (i > 0 && c.as_int() > m->vocab.count(static_cast<int32_t>(i - 1))) bad(path, "counts are not in non-increasing order");
    if (!m->vocab.add(w.as_string(), c.as_int())) bad(path, "the word '" + w.as_string() + "' appears twice in vocab");
  }
  if (const Value* st = meta->find("state")) {
    if (!st->is_string()) bad(path, "__metadata__.state is not a string");
    const Value s = json::parse(st->as_string(), std::string(kLoadOp) + ": " + path + ": state");
    if (!s.is_object()) bad(path, "state is not a JSON object");
    if (const Value* v = s.find("corpusWords"); v && v->is_int()) m->corpus_words = v->as_int();
    if (const Value* v = s.find("corpusSentences"); v && v->is_int()) m->corpus_sentences = v->as_int();
    if (const Value* v = s.find("trainedWords"); v && v->is_int()) m->trained_words = v->as_int();
    if (const Value* lt = s.find("lastTrain"); lt && lt->is_object()) {
      // The defaults of continued training; every value is checked again when it is used.
      TrainConfig t;
      if (const Value* v = lt->find("architecture"); v && v->is_string())
        t.arch = v->as_string() == "cbow" ? Architecture::CBOW : Architecture::SkipGram;
      auto num = [&](const char* key, double fallback) {
        const Value* v = lt->find(key);
        return v && v->is_number() ? v->as_double() : fallback;
      };
      auto integer = [&](const char* key, int64_t fallback, int64_t lo, int64_t hi) {
        const Value* v = lt->find(key);
        int64_t x = v && v->is_int() ? v->as_int() : fallback;
        return x < lo || x > hi ? fallback : x;
      };
      t.window = static_cast<int>(integer("window", t.window, 1, 1000));
      t.sample = num("sample", t.sample);
      t.epochs = static_cast<int>(integer("epochs", t.epochs, 1, 100000));
      t.alpha = num("alpha", t.alpha);
      t.min_alpha = num("minAlpha", t.min_alpha);
      t.threads = static_cast<int>(integer("threads", t.threads, 1, 1024));
      t.seed = static_cast<uint64_t>(integer("seed", 1, 0, INT64_MAX));
      t.max_sentence_length = static_cast<int>(integer("maxSentenceLength", t.max_sentence_length, 1, 1000000));
      if (const Value* v = lt->find("cbowMean"); v && v->is_bool()) t.cbow_mean = v->as_bool();
      try {
        validate(t, "load");
        m->last_train = t;
        m->has_last_train = true;
      } catch (const Error&) {
        // implausible values: continue with the defaults
      }
    }
  }

  const int D = m->cfg.dim;
  wants = {{"vectors", &m->wv, V, true},
           {"syn1neg", &m->syn1neg, V, m->cfg.negative > 0},
           {"syn1", &m->syn1, V > 1 ? V - 1 : 1, m->cfg.hs}};
  for (const auto& kv : root.members()) {
    if (kv.first == "__metadata__") continue;
    bool known = false;
    for (const auto& w : wants) known |= kv.first == w.name;
    if (!known) bad(path, "unexpected tensor '" + kv.first + "'");
  }
  for (const auto& w : wants) {
    const Value* t = root.find(w.name);
    if (!t) {
      if (w.required) bad(path, std::string("missing tensor '") + w.name + "'");
      continue;
    }
    if (!w.required) bad(path, std::string("tensor '") + w.name + "' does not match the config");
    if (!t->is_object()) bad(path, std::string("tensor '") + w.name + "' is not an object");
    const Value& dt = need(*t, "dtype", Value::Type::String, path, w.name);
    if (dt.as_string() != "F32") bad(path, std::string("tensor '") + w.name + "' has dtype " + dt.as_string() + ", expected F32");
    const Value& shape = need(*t, "shape", Value::Type::Array, path, w.name);
    const auto& s = shape.items();
    if (s.size() != 2 || !s[0].is_int() || !s[1].is_int() || s[0].as_int() != w.rows || s[1].as_int() != D)
      bad(path, std::string("tensor '") + w.name + "' has the wrong shape (expected [" + std::to_string(w.rows) + ", " +
                    std::to_string(D) + "])");
  }
  if (m->cfg.negative == 0 && !m->cfg.hs) bad(path, "config has neither negative sampling nor hs");
}

}  // namespace

void save_qkv(const Model& m, const std::string& path) {
  const int64_t V = m.vocab.size();
  io::NamedTensors tensors;
  tensors.emplace_back("vectors", to_tensor(m.wv, V));
  if (m.cfg.negative > 0 && m.syn1neg.rows() == V) tensors.emplace_back("syn1neg", to_tensor(m.syn1neg, V));
  if (m.cfg.hs && !m.syn1.empty()) tensors.emplace_back("syn1", to_tensor(m.syn1, m.syn1.rows()));

  Value vocab = Value::array(), counts = Value::array();
  for (int32_t i = 0; i < V; ++i) {
    vocab.push(Value::string(m.vocab.word(i)));
    counts.push(Value::integer(m.vocab.count(i)));
  }
  Value state = Value::object();
  state.set("corpusWords", Value::integer(m.corpus_words));
  state.set("corpusSentences", Value::integer(m.corpus_sentences));
  state.set("trainedWords", Value::integer(m.trained_words));
  state.set("lastTrain", m.has_last_train ? train_json(m.last_train) : Value::null());

  io::Metadata meta = {{"format", "qkv.word2vec"},        {"version", "1"},
                       {"config", config_json(m.cfg)},    {"vocab", json::dump(vocab)},
                       {"counts", json::dump(counts)},    {"state", json::dump(state)}};
  io::write_safetensors(path, tensors, meta, kSaveOp);
}

std::unique_ptr<Model> load_qkv(const std::string& path) {
  auto m = std::make_unique<Model>();
  std::vector<Want> wants;
  // The qkv checks run on the parsed header first (their messages are the more specific); then
  // io validates the safetensors layout: offsets, sizes, no overlap, no gap, no trailing bytes.
  const io::SafetensorsHeader h =
      io::read_safetensors_header(path, kLoadOp, [&](const Value& root) { read_metadata(root, path, *m, wants); });
  io::FileReader r(path, kLoadOp);
  const int D = m->cfg.dim;
  std::vector<char> buf;
  for (auto& w : wants) {
    const io::SafetensorsEntry* e = nullptr;
    for (const auto& x : h.entries)
      if (x.name == w.name) e = &x;
    if (!e) continue;
    w.m->reset(w.rows, D);
    // Dense rows in the file, padded rows in memory: read in chunks of whole rows.
    const size_t row_bytes = sizeof(float) * static_cast<size_t>(D);
    const int64_t chunk_rows = std::max<int64_t>(1, (int64_t(1) << 20) / static_cast<int64_t>(row_bytes));
    buf.resize(static_cast<size_t>(std::min(chunk_rows, w.rows)) * row_bytes);
    for (int64_t row = 0; row < w.rows; row += chunk_rows) {
      const int64_t n = std::min(chunk_rows, w.rows - row);
      if (!r.read_at(h.data_start + e->begin + static_cast<uint64_t>(row) * row_bytes, buf.data(), static_cast<size_t>(n) * row_bytes))
        bad(path, std::string("tensor '") + w.name + "': the file ended while reading its data (it changed while being read?)");
      for (int64_t i = 0; i < n; ++i) std::memcpy(w.m->row(row + i), buf.data() + static_cast<size_t>(i) * row_bytes, row_bytes);
    }
  }
  m->prepare_tables();
  return m;
}

}  // namespace qkv::w2v

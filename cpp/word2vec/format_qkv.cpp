#include "word2vec/format_qkv.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "word2vec/atomic_file.h"
#include "word2vec/json.h"

namespace qkv::w2v {

namespace {

constexpr int64_t kMaxHeader = int64_t(1) << 31;

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error(ErrorKind::Format, "'" + path + "': " + what);
}

std::string config_json(const ModelConfig& c) {
  std::string s = "{\"dim\":" + std::to_string(c.dim) + ",\"negative\":" + std::to_string(c.negative) +
                  ",\"hs\":" + (c.hs ? "true" : "false") + ",\"minCount\":" + std::to_string(c.min_count) +
                  ",\"maxVocabSize\":" + std::to_string(c.max_vocab_size) + ",\"nsExponent\":" + json_number(c.ns_exponent) + "}";
  return s;
}

std::string train_json(const TrainConfig& t) {
  return std::string("{\"architecture\":\"") + architecture_name(t.arch) + "\",\"window\":" + std::to_string(t.window) +
         ",\"sample\":" + json_number(t.sample) + ",\"epochs\":" + std::to_string(t.epochs) +
         ",\"alpha\":" + json_number(t.alpha) + ",\"minAlpha\":" + json_number(t.min_alpha) +
         ",\"threads\":" + std::to_string(t.threads) + ",\"seed\":" + std::to_string(t.seed) +
         ",\"maxSentenceLength\":" + std::to_string(t.max_sentence_length) + ",\"cbowMean\":" + (t.cbow_mean ? "true" : "false") + "}";
}

struct TensorOut {
  const char* name;
  const Matrix* m;
  int64_t rows;
};

void write_matrix(AtomicFile& f, const Matrix& m, int64_t rows) {
  std::vector<char> buf;
  const size_t row_bytes = sizeof(float) * m.dim();
  buf.reserve(1 << 20);
  for (int64_t r = 0; r < rows; ++r) {
    const char* p = reinterpret_cast<const char*>(m.row(r));
    buf.insert(buf.end(), p, p + row_bytes);
    if (buf.size() >= (1 << 20)) {
      f.write(buf.data(), buf.size());
      buf.clear();
    }
  }
  f.write(buf.data(), buf.size());
}

const Json& need(const Json& o, const char* key, Json::Type type, const std::string& path, const char* where) {
  const Json* v = o.get(key);
  if (!v) bad(path, std::string(where) + " has no \"" + key + "\"");
  if (v->type != type) bad(path, std::string(where) + ": \"" + key + "\" has the wrong type");
  return *v;
}

int64_t need_int(const Json& o, const char* key, const std::string& path, const char* where, int64_t lo, int64_t hi) {
  const Json& v = need(o, key, Json::Number, path, where);
  if (!v.is_int()) bad(path, std::string(where) + ": \"" + key + "\" is not an integer");
  int64_t x = v.as_int();
  if (x < lo || x > hi) bad(path, std::string(where) + ": \"" + key + "\" = " + v.str + " is out of range");
  return x;
}

}  // namespace

void save_qkv(const Model& m, const std::string& path) {
  const int64_t V = m.vocab.size();
  const int D = m.wv.dim();
  std::vector<TensorOut> tensors;
  tensors.push_back({"vectors", &m.wv, V});
  if (m.cfg.negative > 0 && m.syn1neg.rows() == V) tensors.push_back({"syn1neg", &m.syn1neg, V});
  if (m.cfg.hs && !m.syn1.empty()) tensors.push_back({"syn1", &m.syn1, m.syn1.rows()});

  std::string vocab = "[", counts = "[";
  for (int32_t i = 0; i < V; ++i) {
    if (i) {
      vocab += ',';
      counts += ',';
    }
    json_escape(vocab, m.vocab.word(i));
    counts += std::to_string(m.vocab.count(i));
  }
  vocab += ']';
  counts += ']';
  std::string state = "{\"corpusWords\":" + std::to_string(m.corpus_words) +
                      ",\"corpusSentences\":" + std::to_string(m.corpus_sentences) +
                      ",\"trainedWords\":" + std::to_string(m.trained_words) +
                      ",\"lastTrain\":" + (m.has_last_train ? train_json(m.last_train) : std::string("null")) + "}";

  std::string h = "{\"__metadata__\":{\"format\":\"qkv.word2vec\",\"version\":\"1\",\"config\":";
  json_escape(h, config_json(m.cfg));
  h += ",\"vocab\":";
  json_escape(h, vocab);
  h += ",\"counts\":";
  json_escape(h, counts);
  h += ",\"state\":";
  json_escape(h, state);
  h += "}";
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t n = static_cast<uint64_t>(t.rows) * D * sizeof(float);
    h += ",\"";
    h += t.name;
    h += "\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(t.rows) + "," + std::to_string(D) + "],\"data_offsets\":[" +
         std::to_string(offset) + "," + std::to_string(offset + n) + "]}";
    offset += n;
  }
  h += "}";
  while (h.size() % 8) h += ' ';  // the data starts 8-byte aligned
  AtomicFile f(path);
  unsigned char len[8];
  uint64_t hl = h.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(hl >> (8 * i));
  f.write(len, 8);
  f.write(h);
  for (const auto& t : tensors) write_matrix(f, *t.m, t.rows);
  f.commit();
}

std::unique_ptr<Model> load_qkv(const std::string& path) {
  FileReader r(path);
  if (r.size() < 8) bad(path, "too short for a safetensors file");
  unsigned char len[8];
  r.read(len, 8, "header length");
  uint64_t hl = 0;
  for (int i = 7; i >= 0; --i) hl = (hl << 8) | len[i];
  if (hl < 2 || static_cast<int64_t>(hl) > r.size() - 8 || static_cast<int64_t>(hl) > kMaxHeader)
    bad(path, "bad safetensors header length " + std::to_string(hl) + " (file is " + std::to_string(r.size()) + " bytes)");
  std::string header(hl, '\0');
  r.read(header.data(), hl, "header");
  while (!header.empty() && header.back() == ' ') header.pop_back();
  Json root = parse_json(header, "'" + path + "' header");
  if (root.type != Json::Object) bad(path, "the safetensors header is not a JSON object");
  const Json* meta = root.get("__metadata__");
  if (!meta || meta->type != Json::Object) bad(path, "no __metadata__: not a qkv word2vec file");
  const Json& format = need(*meta, "format", Json::String, path, "__metadata__");
  if (format.str != "qkv.word2vec") bad(path, "__metadata__.format is '" + format.str + "', not 'qkv.word2vec'");
  const Json& version = need(*meta, "version", Json::String, path, "__metadata__");
  if (version.str != "1") bad(path, "unsupported qkv.word2vec version '" + version.str + "'");

  Json cfg = parse_json(need(*meta, "config", Json::String, path, "__metadata__").str, "'" + path + "' config");
  if (cfg.type != Json::Object) bad(path, "config is not a JSON object");
  auto m = std::make_unique<Model>();
  m->cfg.dim = static_cast<int>(need_int(cfg, "dim", path, "config", 1, 100000));
  m->cfg.negative = static_cast<int>(need_int(cfg, "negative", path, "config", 0, 1000));
  m->cfg.hs = need(cfg, "hs", Json::Bool, path, "config").b;
  m->cfg.min_count = need_int(cfg, "minCount", path, "config", 1, INT64_MAX);
  m->cfg.max_vocab_size = need_int(cfg, "maxVocabSize", path, "config", 0, INT64_MAX);
  m->cfg.ns_exponent = need(cfg, "nsExponent", Json::Number, path, "config").num;
  if (!(m->cfg.ns_exponent >= -10 && m->cfg.ns_exponent <= 10)) bad(path, "config: nsExponent is out of range");

  Json words = parse_json(need(*meta, "vocab", Json::String, path, "__metadata__").str, "'" + path + "' vocab");
  Json counts = parse_json(need(*meta, "counts", Json::String, path, "__metadata__").str, "'" + path + "' counts");
  if (words.type != Json::Array || counts.type != Json::Array) bad(path, "vocab and counts must be JSON arrays");
  if (words.arr.size() != counts.arr.size())
    bad(path, "vocab has " + std::to_string(words.arr.size()) + " words but counts has " + std::to_string(counts.arr.size()));
  const int64_t V = static_cast<int64_t>(words.arr.size());
  m->vocab.reserve(static_cast<size_t>(V));
  for (int64_t i = 0; i < V; ++i) {
    const Json& w = words.arr[i];
    const Json& c = counts.arr[i];
    if (w.type != Json::String || w.str.empty()) bad(path, "vocab entry " + std::to_string(i) + " is not a non-empty string");
    if (c.type != Json::Number || !c.is_int() || c.as_int() < 0) bad(path, "count " + std::to_string(i) + " is not a non-negative integer");
    if (i > 0 && c.as_int() > m->vocab.count(static_cast<int32_t>(i - 1))) bad(path, "counts are not in non-increasing order");
    if (!m->vocab.add(w.str, c.as_int())) bad(path, "the word '" + w.str + "' appears twice in vocab");
  }
  if (const Json* st = meta->get("state")) {
    if (st->type != Json::String) bad(path, "__metadata__.state is not a string");
    Json s = parse_json(st->str, "'" + path + "' state");
    if (s.type != Json::Object) bad(path, "state is not a JSON object");
    if (const Json* v = s.get("corpusWords"); v && v->is_int()) m->corpus_words = v->as_int();
    if (const Json* v = s.get("corpusSentences"); v && v->is_int()) m->corpus_sentences = v->as_int();
    if (const Json* v = s.get("trainedWords"); v && v->is_int()) m->trained_words = v->as_int();
    if (const Json* lt = s.get("lastTrain"); lt && lt->type == Json::Object) {
      // The defaults of continued training; every value is checked again when it is used.
      TrainConfig t;
      if (const Json* v = lt->get("architecture"); v && v->type == Json::String)
        t.arch = v->str == "cbow" ? Architecture::CBOW : Architecture::SkipGram;
      auto num = [&](const char* key, double fallback) {
        const Json* v = lt->get(key);
        return v && v->type == Json::Number ? v->num : fallback;
      };
      auto integer = [&](const char* key, int64_t fallback, int64_t lo, int64_t hi) {
        const Json* v = lt->get(key);
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
      if (const Json* v = lt->get("cbowMean"); v && v->type == Json::Bool) t.cbow_mean = v->b;
      try {
        validate(t, "load");
        m->last_train = t;
        m->has_last_train = true;
      } catch (const Error&) {
        // implausible values: continue with the defaults
      }
    }
  }

  // Tensors: check names, dtypes, shapes and offsets before reading any data.
  const int64_t data_start = 8 + static_cast<int64_t>(hl);
  const int64_t data_len = r.size() - data_start;
  struct Want {
    const char* name;
    Matrix* m;
    int64_t rows;
    bool required;
  };
  const int D = m->cfg.dim;
  std::vector<Want> wants = {{"vectors", &m->wv, V, true},
                             {"syn1neg", &m->syn1neg, V, m->cfg.negative > 0},
                             {"syn1", &m->syn1, V > 1 ? V - 1 : 1, m->cfg.hs}};
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (const auto& kv : root.obj) {
    if (kv.first == "__metadata__") continue;
    bool known = false;
    for (const auto& w : wants) known |= kv.first == w.name;
    if (!known) bad(path, "unexpected tensor '" + kv.first + "'");
  }
  for (auto& w : wants) {
    const Json* t = root.get(w.name);
    if (!t) {
      if (w.required) bad(path, std::string("missing tensor '") + w.name + "'");
      continue;
    }
    if (!w.required) bad(path, std::string("tensor '") + w.name + "' does not match the config");
    if (t->type != Json::Object) bad(path, std::string("tensor '") + w.name + "' is not an object");
    const Json& dt = need(*t, "dtype", Json::String, path, w.name);
    if (dt.str != "F32") bad(path, std::string("tensor '") + w.name + "' has dtype " + dt.str + ", expected F32");
    const Json& shape = need(*t, "shape", Json::Array, path, w.name);
    if (shape.arr.size() != 2 || !shape.arr[0].is_int() || !shape.arr[1].is_int() || shape.arr[0].as_int() != w.rows ||
        shape.arr[1].as_int() != D)
      bad(path, std::string("tensor '") + w.name + "' has the wrong shape (expected [" + std::to_string(w.rows) + ", " +
                    std::to_string(D) + "])");
    const Json& off = need(*t, "data_offsets", Json::Array, path, w.name);
    if (off.arr.size() != 2 || !off.arr[0].is_int() || !off.arr[1].is_int())
      bad(path, std::string("tensor '") + w.name + "' has bad data_offsets");
    int64_t b = off.arr[0].as_int(), e = off.arr[1].as_int();
    if (b < 0 || e < b || e > data_len || e - b != w.rows * D * 4)
      bad(path, std::string("tensor '") + w.name + "' has data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                    "] outside the file's " + std::to_string(data_len) + " data bytes or of the wrong size");
    for (auto& s : spans)
      if (b < static_cast<int64_t>(s.second) && static_cast<int64_t>(s.first) < e) bad(path, "tensors overlap");
    spans.emplace_back(b, e);
    w.m->reset(w.rows, D);
    r.seek(data_start + b);
    for (int64_t row = 0; row < w.rows; ++row) r.read(w.m->row(row), sizeof(float) * D, w.name);
  }
  if (m->cfg.negative == 0 && !m->cfg.hs) bad(path, "config has neither negative sampling nor hs");
  m->prepare_tables();
  return m;
}

}  // namespace qkv::w2v

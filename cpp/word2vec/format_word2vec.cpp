#include "word2vec/format_word2vec.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"

namespace qkv::w2v {

const char* format_name(FileFormat f) {
  switch (f) {
    case FileFormat::Word2VecText: return "word2vec-text";
    case FileFormat::Word2VecBinary: return "word2vec-binary";
    case FileFormat::Qkv: return "qkv";
    default: return "auto";
  }
}

namespace {

constexpr const char* kLoadOp = "Word2Vec.load";

using io::SequentialReader;

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error(ErrorKind::Format, std::string(kLoadOp) + ": " + path + ": " + what);
}

void put_float(std::string& out, float v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// "<V> <D>\n": returns the position after the newline.
void read_header(SequentialReader& r, int64_t* V, int64_t* D) {
  std::string line;
  for (int c; (c = r.get()) != -1 && c != '\n';) {
    line += static_cast<char>(c);
    if (line.size() > 100) bad(r.path(), "bad header: the first line is not '<count> <dimensions>'");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const char* p = line.data();
  const char* e = p + line.size();
  auto skip = [&]() { while (p < e && (*p == ' ' || *p == '\t')) ++p; };
  skip();
  auto r1 = std::from_chars(p, e, *V);
  if (r1.ec != std::errc() || r1.ptr == p) bad(r.path(), "bad header: the first line is not '<count> <dimensions>'");
  p = r1.ptr;
  if (p == e || (*p != ' ' && *p != '\t')) bad(r.path(), "bad header: the first line is not '<count> <dimensions>'");
  skip();
  auto r2 = std::from_chars(p, e, *D);
  if (r2.ec != std::errc() || r2.ptr == p) bad(r.path(), "bad header: the first line is not '<count> <dimensions>'");
  p = r2.ptr;
  skip();
  if (p != e) bad(r.path(), "bad header: unexpected text after '<count> <dimensions>'");
  if (*V < 0) bad(r.path(), "bad header: negative vector count");
  if (*D < 1 || *D > 100000) bad(r.path(), "bad header: dimensions must be in [1, 100000], got " + std::to_string(*D));
}

bool is_number_char(int c) {
  return (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E' || c == ' ' || c == '\t' ||
         c == '\r' || c == 'n' || c == 'a' || c == 'i' || c == 'f' || c == 'N' || c == 'I' || c == 'F' || c == 'A';
}

// Decides text vs binary from the first record: in text, the rest of the line after "<word> "
// is made (almost, >= 90%) only of number characters and spaces. D little-endian
// floats practically never look like that.
FileFormat sniff_record(SequentialReader& r, int64_t D) {
  const int64_t start = r.tell();
  int c;
  while ((c = r.get()) != -1 && c == '\n') {}
  while (c != -1 && c != ' ' && c != '\n') c = r.get();
  FileFormat f = FileFormat::Word2VecText;
  if (c == ' ') {
    const int64_t limit = D * 64 + 64;
    int64_t n = 0, numeric = 0, tokens = 0;
    bool in_token = false;
    while ((c = r.get()) != -1 && c != '\n' && n < limit) {
      ++n;
      if (is_number_char(c)) ++numeric;
      bool space = c == ' ' || c == '\t' || c == '\r';
      if (!space && !in_token) ++tokens;
      in_token = !space;
    }
    const bool looks_text = (c == '\n' || c == -1) && tokens >= 1 && numeric * 10 >= n * 9;
    f = looks_text ? FileFormat::Word2VecText : FileFormat::Word2VecBinary;
  }
  r.seek(start);
  return f;
}

std::unique_ptr<Model> make_model(int64_t V, int64_t D) {
  auto m = std::make_unique<Model>();
  m->cfg.dim = static_cast<int>(D);
  m->cfg.negative = 0;
  m->cfg.hs = false;
  m->cfg.min_count = 1;
  m->wv.reset(V, static_cast<int>(D));
  m->vocab.reserve(static_cast<size_t>(V));
  return m;
}

void check_word(const std::string& path, const std::string& w, int64_t i) {
  if (w.empty()) bad(path, "vector " + std::to_string(i + 1) + " has an empty word");
  if (!valid_utf8(w)) bad(path, "the word of vector " + std::to_string(i + 1) + " is not valid UTF-8");
}

// Shrinks a model whose file repeated words (gensim keeps the first; so do we).
void compact(Model& m, int64_t kept) {
  if (kept == m.wv.rows()) return;
  Matrix w(kept, m.wv.dim());
  for (int64_t r = 0; r < kept; ++r) std::memcpy(w.row(r), m.wv.row(r), sizeof(float) * m.wv.stride());
  m.wv = std::move(w);
}

std::unique_ptr<Model> load_text(SequentialReader& r, int64_t V, int64_t D) {
  if (V > 0 && (r.size() - r.tell()) / V < 2 * D)
    bad(r.path(), "header declares " + std::to_string(V) + " vectors of " + std::to_string(D) +
                      " numbers but the file is too short to hold them");
  auto m = make_model(V, D);
  std::string line;
  int64_t kept = 0;
  for (int64_t i = 0; i < V; ++i) {
    line.clear();
    int c;
    for (;;) {
      c = r.get();
      if (c == -1 || c == '\n') break;
      line += static_cast<char>(c);
    }
    if (line.empty() && c == -1)
      bad(r.path(), "header declares " + std::to_string(V) + " vectors but the file ends after " + std::to_string(i));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    const char* p = line.data();
    const char* e = p + line.size();
    const char* ws = p;
    while (ws < e && *ws != ' ') ++ws;
    std::string word(p, ws);
    check_word(r.path(), word, i);
    float* row = m->wv.row(kept);
    p = ws;
    int64_t d = 0;
    for (;; ++d) {
      while (p < e && (*p == ' ' || *p == '\t')) ++p;
      if (p == e) break;
      if (d >= D) bad(r.path(), "line " + std::to_string(i + 2) + " ('" + word + "') has more than " + std::to_string(D) + " numbers");
      float v;
      auto res = std::from_chars(p, e, v);
      if (res.ec == std::errc::result_out_of_range) {
        // from_chars reports overflow and subnormal underflow alike; fall back to strtof's rounding.
        std::string tok(p, std::find(p, e, ' '));
        v = std::strtof(tok.c_str(), nullptr);
        res.ptr = p + tok.size();
      } else if (res.ec != std::errc() || (res.ptr < e && *res.ptr != ' ' && *res.ptr != '\t')) {
        bad(r.path(), "line " + std::to_string(i + 2) + " ('" + word + "'): '" + std::string(p, std::find(p, e, ' ')) + "' is not a number");
      }
      if (d < D) row[d] = v;
      p = res.ptr;
    }
    if (d != D)
      bad(r.path(), "line " + std::to_string(i + 2) + " ('" + word + "') has " + std::to_string(d) + " numbers, expected " + std::to_string(D));
    if (m->vocab.add(word, 0)) ++kept;
    else std::memset(row, 0, sizeof(float) * m->wv.stride());
  }
  for (int c; (c = r.get()) != -1;)
    if (!(c == '\n' || c == '\r' || c == ' ' || c == '\t'))
      bad(r.path(), "the file holds more vectors than its header declares (" + std::to_string(V) + ")");
  compact(*m, kept);
  return m;
}

std::unique_ptr<Model> load_binary(SequentialReader& r, int64_t V, int64_t D) {
  if (V > 0 && (r.size() - r.tell()) / V < 4 * D + 2)
    bad(r.path(), "header declares " + std::to_string(V) + " vectors of " + std::to_string(D) +
                      " floats but the file is too short to hold them (truncated?)");
  auto m = make_model(V, D);
  std::string word;
  int64_t kept = 0;
  for (int64_t i = 0; i < V; ++i) {
    word.clear();
    int c;
    while ((c = r.get()) == '\n') {}
    for (;;) {
      if (c == -1)
        bad(r.path(), "header declares " + std::to_string(V) + " vectors but the file ends in vector " + std::to_string(i + 1));
      if (c == ' ') break;
      if (c != '\n') word += static_cast<char>(c);
      if (word.size() > 100000) bad(r.path(), "the word of vector " + std::to_string(i + 1) + " is longer than 100000 bytes");
      c = r.get();
    }
    check_word(r.path(), word, i);
    float* row = m->wv.row(kept);
    r.read(row, sizeof(float) * static_cast<size_t>(D), ("vector " + std::to_string(i + 1) + " ('" + word + "') is truncated"));
    if (m->vocab.add(word, 0)) ++kept;
    else std::memset(row, 0, sizeof(float) * m->wv.stride());
  }
  for (int c; (c = r.get()) != -1;)
    if (!(c == '\n' || c == '\r' || c == ' ' || c == '\t'))
      bad(r.path(), "the file holds more data than its header declares (" + std::to_string(V) + " vectors)");
  compact(*m, kept);
  return m;
}

}  // namespace

FileFormat detect_format(const std::string& path) {
  SequentialReader r(path, kLoadOp);
  unsigned char head[9] = {0};
  int64_t n = r.size() < 9 ? r.size() : 9;
  if (n > 0) r.read(head, static_cast<size_t>(n), "header");
  if (n == 9) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; --i) len = (len << 8) | head[i];
    if (head[8] == '{' && len >= 2 && static_cast<int64_t>(len) <= r.size() - 8) return FileFormat::Qkv;
  }
  r.seek(0);
  int64_t V = 0, D = 0;
  read_header(r, &V, &D);
  return V == 0 ? FileFormat::Word2VecText : sniff_record(r, D);
}

std::unique_ptr<Model> load_word2vec(const std::string& path, FileFormat format) {
  io::remove_stale_temporaries(path);
  SequentialReader r(path, kLoadOp);
  int64_t V = 0, D = 0;
  read_header(r, &V, &D);
  if (V > (int64_t(1) << 31) - 1) bad(path, "bad header: more than 2^31 - 1 vectors");
  if (format == FileFormat::Auto || format == FileFormat::Qkv) format = V == 0 ? FileFormat::Word2VecText : sniff_record(r, D);
  return format == FileFormat::Word2VecBinary ? load_binary(r, V, D) : load_text(r, V, D);
}

void save_word2vec(const Model& m, const std::string& path, bool binary) {
  const int64_t V = m.vocab.size();
  const int D = m.wv.dim();
  io::AtomicWriter f(path, "Word2Vec.save");
  std::string buf = std::to_string(V) + " " + std::to_string(D) + "\n";
  for (int64_t i = 0; i < V; ++i) {
    buf += m.vocab.word(static_cast<int32_t>(i));
    buf += ' ';
    const float* row = m.wv.row(i);
    if (binary) {
      buf.append(reinterpret_cast<const char*>(row), sizeof(float) * D);
    } else {
      for (int d = 0; d < D; ++d) {
        if (d) buf += ' ';
        put_float(buf, row[d]);
      }
    }
    buf += '\n';
    if (buf.size() > (1 << 20)) {
      f.write(buf.data(), buf.size());
      buf.clear();
    }
  }
  f.write(buf.data(), buf.size());
  f.commit();
}

}  // namespace qkv::w2v

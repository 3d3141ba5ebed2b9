#include "word2vec/evaluate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>

#include "core/error.h"
#include "cpu/gemm.h"
#include "io/atomic_file.h"
#include "word2vec/similarity.h"

namespace qkv::w2v {

namespace {

std::string lower_ascii(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The known words: the first `limit`, keyed lower-case when case_insensitive (most frequent wins).
class KnownWords {
 public:
  KnownWords(const Model& m, int64_t restrict_vocab, bool ci) : m_(m), ci_(ci) {
    int64_t V = m.vocab.size();
    limit_ = restrict_vocab > 0 && restrict_vocab < V ? restrict_vocab : V;
    if (ci) {
      for (int64_t i = limit_; i-- > 0;) map_[lower_ascii(m.vocab.word(static_cast<int32_t>(i)))] = static_cast<int32_t>(i);
    }
  }
  int32_t find(const std::string& w) const {
    if (ci_) {
      auto it = map_.find(lower_ascii(w));
      return it == map_.end() ? -1 : it->second;
    }
    int32_t i = m_.vocab.find(w);
    return i >= 0 && i < limit_ ? i : -1;
  }
  int64_t limit() const { return limit_; }
  std::string key(int32_t i) const { return ci_ ? lower_ascii(m_.vocab.word(i)) : m_.vocab.word(i); }

 private:
  const Model& m_;
  bool ci_;
  int64_t limit_;
  std::unordered_map<std::string, int32_t> map_;
};

std::vector<double> ranks(const std::vector<double>& x) {
  const size_t n = x.size();
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && x[idx[j + 1]] == x[idx[i]]) ++j;
    double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

std::vector<std::string> split_ws(const std::string& line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t s = i;
    while (i < line.size() && !(line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    if (i > s) out.push_back(line.substr(s, i - s));
  }
  return out;
}

bool read_line(io::SequentialReader& r, std::string& line) {
  line.clear();
  int c = r.get();
  if (c == -1) return false;
  while (c != -1 && c != '\n') {
    line += static_cast<char>(c);
    c = r.get();
  }
  return true;
}

}  // namespace

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 2) return NAN;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return NAN;
  return sxy / std::sqrt(sxx * syy);
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) { return pearson(ranks(x), ranks(y)); }

std::vector<WordPair> read_word_pairs(const std::string& path) {
  io::SequentialReader r(path, "Word2Vec.evaluateWordPairs");
  std::vector<WordPair> out;
  std::string line;
  int64_t lineno = 0;
  while (read_line(r, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> parts;
    size_t s = 0;
    for (;;) {
      size_t t = line.find('\t', s);
      parts.push_back(line.substr(s, t == std::string::npos ? std::string::npos : t - s));
      if (t == std::string::npos) break;
      s = t + 1;
    }
    if (parts.size() != 3) {
      parts = split_ws(line);
      if (parts.size() != 3)
        throw Error(ErrorKind::Format, "Word2Vec.evaluateWordPairs: '" + path + "': line " + std::to_string(lineno) + " is not 'word1<TAB>word2<TAB>score'");
    }
    double score;
    const std::string& sc = parts[2];
    auto res = std::from_chars(sc.data(), sc.data() + sc.size(), score);
    if (res.ec != std::errc() || res.ptr != sc.data() + sc.size())
      throw Error(ErrorKind::Format, "Word2Vec.evaluateWordPairs: '" + path + "': line " + std::to_string(lineno) + ": '" + sc + "' is not a number");
    out.push_back({parts[0], parts[1], score});
  }
  return out;
}

PairsResult evaluate_word_pairs(Model& m, const std::vector<WordPair>& pairs, int64_t restrict_vocab, bool ci) {
  KnownWords known(m, restrict_vocab, ci);
  std::vector<double> model_sims, human;
  PairsResult res;
  for (const auto& p : pairs) {
    int32_t a = known.find(p.a), b = known.find(p.b);
    if (a < 0 || b < 0) {
      ++res.oov;
      continue;
    }
    model_sims.push_back(similarity(m, a, b));
    human.push_back(p.score);
  }
  res.pairs = static_cast<int64_t>(human.size());
  res.pearson = pearson(model_sims, human);
  res.spearman = spearman(model_sims, human);
  return res;
}

void read_analogies(const std::string& path, std::vector<Question>* out, std::vector<std::string>* names) {
  io::SequentialReader r(path, "Word2Vec.evaluateAnalogies");
  std::string line;
  int64_t lineno = 0;
  while (read_line(r, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line[0] == ':') {
      std::string name = line.substr(1);
      while (!name.empty() && name.front() == ' ') name.erase(name.begin());
      names->push_back(name);
      continue;
    }
    std::vector<std::string> p = split_ws(line);
    if (p.empty()) continue;
    if (p.size() != 4)
      throw Error(ErrorKind::Format, "Word2Vec.evaluateAnalogies: '" + path + "': line " + std::to_string(lineno) + " is not four words 'a b c d'");
    if (names->empty()) names->push_back("questions");
    out->push_back({p[0], p[1], p[2], p[3], static_cast<int32_t>(names->size() - 1)});
  }
}

AnalogyResult evaluate_analogies(Model& m, const std::vector<Question>& qs, const std::vector<std::string>& names,
                                 int64_t restrict_vocab, bool ci) {
  KnownWords known(m, restrict_vocab, ci);
  AnalogyResult res;
  res.total = static_cast<int64_t>(qs.size());
  res.sections.resize(names.size());
  for (size_t s = 0; s < names.size(); ++s) res.sections[s].name = names[s];
  struct Covered {
    int32_t a, b, c, d;
    int32_t section;
  };
  std::vector<Covered> cov;
  for (const auto& q : qs) {
    if (q.section < 0 || q.section >= static_cast<int32_t>(names.size()))
      throw Error(ErrorKind::Internal, "evaluateAnalogies: question section out of range");
    Covered c{known.find(q.a), known.find(q.b), known.find(q.c), known.find(q.expected), q.section};
    if (c.a < 0 || c.b < 0 || c.c < 0 || c.d < 0) continue;
    cov.push_back(c);
  }
  res.covered = static_cast<int64_t>(cov.size());
  const Matrix& u = m.unit();
  const int stride = u.stride(), dim = u.dim();
  const int64_t L = known.limit();
  // Query vectors in blocks; scores = Q U^T with the core's GEMM; per question the best word
  // outside {a, b, c} (compared by key, as gensim does with case_insensitive).
  constexpr int64_t kBlock = 128;
  constexpr int64_t kCols = 8192;
  std::vector<float> Q(static_cast<size_t>(kBlock) * stride), S(static_cast<size_t>(kBlock) * kCols);
  int64_t correct_total = 0, answered = 0;
  for (int64_t q0 = 0; q0 < res.covered; q0 += kBlock) {
    const int64_t nb = std::min(kBlock, res.covered - q0);
    for (int64_t i = 0; i < nb; ++i) {
      const Covered& c = cov[q0 + i];
      float* q = Q.data() + i * stride;
      double ss = 0;
      for (int d = 0; d < dim; ++d) {
        q[d] = u.row(c.b)[d] + u.row(c.c)[d] - u.row(c.a)[d];
        ss += static_cast<double>(q[d]) * q[d];
      }
      float inv = ss > 0 ? static_cast<float>(1.0 / std::sqrt(ss)) : 0.0f;
      for (int d = 0; d < dim; ++d) q[d] *= inv;
    }
    std::vector<std::vector<Scored>> best(static_cast<size_t>(nb));
    for (int64_t c0 = 0; c0 < L; c0 += kCols) {
      const int64_t nc = std::min(kCols, L - c0);
      cpu::sgemm(false, true, nb, nc, dim, 1.0f, Q.data(), stride, u.row(c0), stride, 0.0f, S.data(), nc);
      for (int64_t i = 0; i < nb; ++i) {
        const Covered& c = cov[q0 + i];
        std::vector<Scored> top = top_k(S.data() + i * nc, nc, 8, {});
        for (auto& s : top) {
          s.index += static_cast<int32_t>(c0);
          best[i].push_back(s);
        }
        (void)c;
      }
    }
    for (int64_t i = 0; i < nb; ++i) {
      const Covered& c = cov[q0 + i];
      auto& cand = best[i];
      std::stable_sort(cand.begin(), cand.end(), [](const Scored& x, const Scored& y) {
        return x.score > y.score || (x.score == y.score && x.index < y.index);
      });
      const std::string ka = known.key(c.a), kb = known.key(c.b), kc = known.key(c.c), kd = known.key(c.d);
      for (const auto& s : cand) {
        std::string k = known.key(s.index);
        if (k == ka || k == kb || k == kc) continue;
        bool ok = k == kd;
        if (ok) ++res.sections[c.section].correct, ++correct_total;
        else ++res.sections[c.section].incorrect;
        ++answered;
        break;
      }
    }
  }
  res.accuracy = answered > 0 ? static_cast<double>(correct_total) / static_cast<double>(answered) : 0.0;
  return res;
}

}  // namespace qkv::w2v

#include "word2vec/similarity.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"
#include "word2vec/kernels.h"

namespace qkv::w2v {

std::vector<Scored> top_k(const float* scores, int64_t n, int topn, const std::vector<int32_t>& exclude) {
  std::vector<Scored> best;
  if (topn <= 0) return best;
  const size_t want = static_cast<size_t>(topn) + exclude.size();
  auto worse = [](const Scored& a, const Scored& b) {  // heap order: worst on top
    return a.score > b.score || (a.score == b.score && a.index < b.index);
  };
  best.reserve(want + 1);
  for (int64_t i = 0; i < n; ++i) {
    float s = scores[i];
    if (std::isnan(s)) continue;
    if (best.size() < want) {
      best.push_back({static_cast<int32_t>(i), s});
      std::push_heap(best.begin(), best.end(), worse);
    } else if (s > best.front().score) {
      std::pop_heap(best.begin(), best.end(), worse);
      best.back() = {static_cast<int32_t>(i), s};
      std::push_heap(best.begin(), best.end(), worse);
    }
  }
  std::sort(best.begin(), best.end(), worse);
  std::vector<Scored> out;
  for (const auto& s : best) {
    if (std::find(exclude.begin(), exclude.end(), s.index) != exclude.end()) continue;
    out.push_back(s);
    if (static_cast<int>(out.size()) == topn) break;
  }
  return out;
}

void cosines(Model& m, const float* unit_v, int64_t limit, float* out) {
  const Matrix& u = m.unit();
  const Kernels& K = kernels();
  const int stride = u.stride();
  if (limit * stride < (int64_t(1) << 21)) {
    K.dots(u.data(), limit, stride, unit_v, out);
    return;
  }
  parallel_for(0, limit, 8192, [&](int64_t lo, int64_t hi) { K.dots(u.row(lo), hi - lo, stride, unit_v, out + lo); });
}

namespace {

int64_t clamp_limit(const Model& m, int64_t restrict_vocab) {
  int64_t V = m.vocab.size();
  return restrict_vocab > 0 && restrict_vocab < V ? restrict_vocab : V;
}

std::vector<float> unit_mean(Model& m, const std::vector<int32_t>& positive, const std::vector<int32_t>& negative) {
  const Matrix& u = m.unit();
  std::vector<float> mean(u.stride(), 0.0f);
  for (int32_t p : positive)
    for (int d = 0; d < u.dim(); ++d) mean[d] += u.row(p)[d];
  for (int32_t n : negative)
    for (int d = 0; d < u.dim(); ++d) mean[d] -= u.row(n)[d];
  double ss = 0;
  for (int d = 0; d < u.dim(); ++d) ss += static_cast<double>(mean[d]) * mean[d];
  if (ss > 0) {
    float inv = static_cast<float>(1.0 / std::sqrt(ss));
    for (int d = 0; d < u.dim(); ++d) mean[d] *= inv;
  }
  return mean;
}

// A 64-byte aligned copy (the kernels load whole vectors).
struct AlignedVec {
  float* p;
  explicit AlignedVec(const std::vector<float>& v) {
    size_t bytes = (v.size() * sizeof(float) + 63) / 64 * 64;
    p = static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64));
    if (!p) throw std::bad_alloc();
    std::fill(p, p + bytes / sizeof(float), 0.0f);
    std::copy(v.begin(), v.end(), p);
  }
  ~AlignedVec() { std::free(p); }
};

}  // namespace

std::vector<Scored> most_similar(Model& m, const std::vector<int32_t>& positive, const std::vector<int32_t>& negative,
                                 int topn, int64_t restrict_vocab) {
  const int64_t limit = clamp_limit(m, restrict_vocab);
  AlignedVec q(unit_mean(m, positive, negative));
  std::vector<float> scores(static_cast<size_t>(limit));
  cosines(m, q.p, limit, scores.data());
  std::vector<int32_t> exclude(positive);
  exclude.insert(exclude.end(), negative.begin(), negative.end());
  return top_k(scores.data(), limit, topn, exclude);
}

std::vector<Scored> most_similar_to_vector(Model& m, const float* v, int topn, int64_t restrict_vocab) {
  const int64_t limit = clamp_limit(m, restrict_vocab);
  const int dim = m.wv.dim();
  std::vector<float> unit(m.wv.stride(), 0.0f);
  double ss = 0;
  for (int d = 0; d < dim; ++d) ss += static_cast<double>(v[d]) * v[d];
  float inv = ss > 0 ? static_cast<float>(1.0 / std::sqrt(ss)) : 0.0f;
  for (int d = 0; d < dim; ++d) unit[d] = v[d] * inv;
  AlignedVec q(unit);
  std::vector<float> scores(static_cast<size_t>(limit));
  cosines(m, q.p, limit, scores.data());
  return top_k(scores.data(), limit, topn, {});
}

std::vector<Scored> most_similar_cosmul(Model& m, const std::vector<int32_t>& positive,
                                        const std::vector<int32_t>& negative, int topn, int64_t restrict_vocab) {
  const int64_t limit = clamp_limit(m, restrict_vocab);
  const Matrix& u = m.unit();
  std::vector<float> prod_pos(static_cast<size_t>(limit), 1.0f), prod_neg(static_cast<size_t>(limit), 1.0f);
  std::vector<float> c(static_cast<size_t>(limit));
  for (int32_t p : positive) {
    cosines(m, u.row(p), limit, c.data());
    for (int64_t i = 0; i < limit; ++i) prod_pos[i] *= (1.0f + c[i]) / 2.0f;
  }
  for (int32_t n : negative) {
    cosines(m, u.row(n), limit, c.data());
    for (int64_t i = 0; i < limit; ++i) prod_neg[i] *= (1.0f + c[i]) / 2.0f;
  }
  for (int64_t i = 0; i < limit; ++i) c[i] = prod_pos[i] / (prod_neg[i] + 1e-6f);
  std::vector<int32_t> exclude(positive);
  exclude.insert(exclude.end(), negative.begin(), negative.end());
  return top_k(c.data(), limit, topn, exclude);
}

int32_t doesnt_match(Model& m, const std::vector<int32_t>& words) {
  if (words.empty()) throw_range("doesntMatch: no known words");
  const Matrix& u = m.unit();
  std::vector<float> mean = unit_mean(m, words, {});
  int32_t worst = words[0];
  float worst_s = INFINITY;
  for (int32_t w : words) {
    float s = 0;
    for (int d = 0; d < u.dim(); ++d) s += u.row(w)[d] * mean[d];
    if (s < worst_s) {
      worst_s = s;
      worst = w;
    }
  }
  return worst;
}

float similarity(Model& m, int32_t a, int32_t b) {
  const Matrix& u = m.unit();
  double s = 0;
  for (int d = 0; d < u.dim(); ++d) s += static_cast<double>(u.row(a)[d]) * u.row(b)[d];
  return static_cast<float>(s);
}

}  // namespace qkv::w2v

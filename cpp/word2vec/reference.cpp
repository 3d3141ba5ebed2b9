// The reference per-sentence update: word2vec.c's loops, one (context, centre) pair at a time,
// fresh negatives for every pair, output weights updated as soon as each is used; plain scalar
// code over `dim`. Slow on purpose: it is what the fast path is checked against, in quality
// (test/word2vec_quality.test.ts); the kernels' arithmetic is checked by test/native/w2v_kernel_check.cpp.
#include <cmath>

#include "word2vec/kernels.h"
#include "word2vec/trainer.h"

namespace qkv::w2v {

namespace {

// sigma(s) and the pair loss through the same tables the fast kernels use.
float sigmoid_ref(float s) {
  int idx = static_cast<int>((s + kMaxExp) * (kSigmoidTableSize / (2.0f * kMaxExp)));
  if (idx >= kSigmoidTableSize) idx = kSigmoidTableSize - 1;
  return sigmoid_table()[idx];
}

double pair_loss(float s, float label) {
  double z = label > 0.5f ? s : -s;
  return std::log1p(std::exp(-z));
}

// One output row: g = alpha * (label - sigma(h . out)); neu1e += g * out; out += g * h.
void update_output(const float* h, float* outrow, float label, float alpha, int dim, float* neu1e, double* loss) {
  float s = 0;
  for (int d = 0; d < dim; ++d) s += h[d] * outrow[d];
  *loss += pair_loss(s, label);
  if (s >= kMaxExp || s <= -kMaxExp) return;  // saturated: no update (gensim's rule)
  float g = (label - sigmoid_ref(s)) * alpha;
  for (int d = 0; d < dim; ++d) neu1e[d] += g * outrow[d];
  for (int d = 0; d < dim; ++d) outrow[d] += g * h[d];
}

void update_outputs(Model& m, const float* h, int32_t word, float alpha, Rng& rng, float* neu1e, double* loss) {
  const int dim = m.cfg.dim;
  if (m.cfg.hs) {
    const int len = m.tree.length[word];
    const int32_t* pts = m.tree.points_of(word);
    const uint8_t* cds = m.tree.codes_of(word);
    for (int j = 0; j < len; ++j) update_output(h, m.syn1.row(pts[j]), 1.0f - cds[j], alpha, dim, neu1e, loss);
  }
  if (m.cfg.negative > 0) {
    update_output(h, m.syn1neg.row(word), 1.0f, alpha, dim, neu1e, loss);
    for (int d = 0; d < m.cfg.negative; ++d) {
      int32_t t = m.unigram.sample(rng.next());
      if (t == word) continue;
      update_output(h, m.syn1neg.row(t), 0.0f, alpha, dim, neu1e, loss);
    }
  }
}

}  // namespace

void train_sentence_reference(const int32_t* ids, int n, SentenceWork& w) {
  Model& m = *w.model;
  const TrainConfig& tc = *w.cfg;
  const int dim = m.cfg.dim;
  const int window = tc.window;
  Rng& rng = *w.rng;
  float* neu1e = w.din;
  float* neu1 = w.hidden;
  for (int pos = 0; pos < n; ++pos) {
    const int32_t word = ids[pos];
    const int b = static_cast<int>(rng.below(static_cast<uint32_t>(window)));
    const int lo = pos - window + b < 0 ? 0 : pos - window + b;
    const int hi = pos + window - b + 1 > n ? n : pos + window - b + 1;
    if (tc.arch == Architecture::CBOW) {
      int cw = 0;
      for (int d = 0; d < dim; ++d) neu1[d] = 0;
      for (int c = lo; c < hi; ++c) {
        if (c == pos) continue;
        const float* r = m.wv.row(ids[c]);
        for (int d = 0; d < dim; ++d) neu1[d] += r[d];
        ++cw;
      }
      if (cw == 0) continue;
      if (tc.cbow_mean)
        for (int d = 0; d < dim; ++d) neu1[d] /= static_cast<float>(cw);
      for (int d = 0; d < dim; ++d) neu1e[d] = 0;
      update_outputs(m, neu1, word, w.alpha, rng, neu1e, &w.loss);
      for (int c = lo; c < hi; ++c) {
        if (c == pos) continue;
        float* r = m.wv.row(ids[c]);
        for (int d = 0; d < dim; ++d) r[d] += neu1e[d];
      }
      w.examples += 1;
    } else {
      for (int c = lo; c < hi; ++c) {
        if (c == pos) continue;
        float* l1 = m.wv.row(ids[c]);
        for (int d = 0; d < dim; ++d) neu1e[d] = 0;
        update_outputs(m, l1, word, w.alpha, rng, neu1e, &w.loss);
        for (int d = 0; d < dim; ++d) l1[d] += neu1e[d];
        w.examples += 1;
      }
    }
  }
}

}  // namespace qkv::w2v

#include "word2vec/model.h"

#include <cmath>

#include "core/random.h"

namespace qkv::w2v {

void Model::init(Vocab v, const ModelConfig& c, uint64_t seed) {
  cfg = c;
  vocab = std::move(v);
  const int64_t V = vocab.size();
  wv.reset(V, cfg.dim);
  // Uniform in [-1, 1) / dim, as gensim 4 (word2vec.c uses half that range); one seeded stream in row order.
  Rng rng(seed ^ 0x5eed5eed5eedULL);
  const float scale = 1.0f / static_cast<float>(cfg.dim);
  for (int64_t r = 0; r < V; ++r) {
    float* row = wv.row(r);
    for (int d = 0; d < cfg.dim; ++d) row[d] = (rng.uniform_f() * 2.0f - 1.0f) * scale;
  }
  if (cfg.negative > 0) syn1neg.reset(V, cfg.dim);
  else syn1neg.clear();
  if (cfg.hs) syn1.reset(V > 1 ? V - 1 : 1, cfg.dim);
  else syn1.clear();
  prepare_tables();
  invalidate_unit();
}

void Model::prepare_tables() {
  if (cfg.hs) tree = build_huffman(vocab.counts());
  else tree = HuffmanTree();
  if (cfg.negative > 0) unigram.build(vocab.counts(), cfg.ns_exponent);
  else unigram = UnigramTable();
}

bool Model::trainable() const {
  if (vocab.size() == 0) return false;
  if (cfg.negative > 0 && syn1neg.rows() != vocab.size()) return false;
  if (cfg.hs && syn1.empty()) return false;
  for (int32_t i = 0; i < vocab.size(); ++i)
    if (vocab.count(i) <= 0) return false;
  return true;
}

size_t Model::bytes() const { return wv.bytes() + syn1neg.bytes() + syn1.bytes() + unit_.bytes(); }

const Matrix& Model::unit() {
  std::lock_guard<std::mutex> lock(unit_mutex_);
  if (unit_valid_ && unit_.rows() == wv.rows()) return unit_;
  unit_.reset(wv.rows(), wv.dim());
  for (int64_t r = 0; r < wv.rows(); ++r) {
    const float* a = wv.row(r);
    float* u = unit_.row(r);
    double ss = 0;
    for (int d = 0; d < wv.dim(); ++d) ss += static_cast<double>(a[d]) * a[d];
    if (ss > 0) {
      float inv = static_cast<float>(1.0 / std::sqrt(ss));
      for (int d = 0; d < wv.dim(); ++d) u[d] = a[d] * inv;
    }
  }
  unit_valid_ = true;
  return unit_;
}

void Model::invalidate_unit() {
  std::lock_guard<std::mutex> lock(unit_mutex_);
  unit_valid_ = false;
  unit_.clear();
}

}  // namespace qkv::w2v

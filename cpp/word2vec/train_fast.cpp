// The fast per-sentence update: for each centre word, its context rows and its outputs (the centre
// word's negative-sampling row with `negative` negatives shared by the whole window, and/or its
// Huffman path) go through one batched kernel call (Ji et al. 2016), on the SIMD level in use.
// The next centre word's negatives are drawn one step ahead so that their rows can be prefetched
// while the current window is computed.
#include "word2vec/kernels.h"
#include "word2vec/trainer.h"

namespace qkv::w2v {

int max_outputs(const Model& m) { return (m.cfg.negative > 0 ? m.cfg.negative + 1 : 0) + (m.cfg.hs ? m.tree.max_length : 0); }

namespace {
constexpr int kHotDepth = 4;  // Huffman nodes this close to the root stay in cache anyway
inline void prefetch_row(const float* row, int stride) {
  const char* p = reinterpret_cast<const char*>(row);
  for (int off = 0; off < stride * 4; off += 64) __builtin_prefetch(p + off, 1, 3);
}
}  // namespace

void train_sentence_fast(const int32_t* ids, int n, SentenceWork& w) {
  Model& m = *w.model;
  const TrainConfig& tc = *w.cfg;
  const Kernels& K = kernels();
  const int stride = m.wv.stride();
  const int window = tc.window;
  const int neg = m.cfg.negative;
  const bool hs = m.cfg.hs;
  const bool cbow = tc.arch == Architecture::CBOW;
  float** in = w.in.data();
  float** out = w.out.data();
  float* lab = w.lab.data();
  Rng& rng = *w.rng;
  int32_t negs[2][1024];  // this centre's negatives and the next one's (negative <= 1000)
  int cur = 0;
  if (neg > 0)
    for (int d = 0; d < neg; ++d) negs[cur][d] = m.unigram.sample(rng.next());
  for (int pos = 0; pos < n; ++pos) {
    const int32_t word = ids[pos];
    // Dynamic window: a width drawn uniformly from 1..window.
    const int b = static_cast<int>(rng.below(static_cast<uint32_t>(window)));
    const int lo = pos - window + b < 0 ? 0 : pos - window + b;
    const int hi = pos + window - b + 1 > n ? n : pos + window - b + 1;
    // Draw the next centre's negatives now and prefetch what it will touch.
    if (pos + 1 < n) {
      const int nx = cur ^ 1;
      if (neg > 0) {
        for (int d = 0; d < neg; ++d) {
          negs[nx][d] = m.unigram.sample(rng.next());
          prefetch_row(m.syn1neg.row(negs[nx][d]), stride);
        }
        prefetch_row(m.syn1neg.row(ids[pos + 1]), stride);
      }
      if (hs) {
        // The top of the Huffman tree is always in cache; the deeper nodes of the next path may not be.
        const int32_t nw = ids[pos + 1];
        const int len = m.tree.length[nw];
        const int32_t* pts = m.tree.points_of(nw);
        for (int j = kHotDepth; j < len; ++j) prefetch_row(m.syn1.row(pts[j]), stride);
      }
      if (pos + 1 + window < n) prefetch_row(m.wv.row(ids[pos + 1 + window]), stride);
    }
    int k = 0;
    for (int c = lo; c < hi; ++c)
      if (c != pos) in[k++] = m.wv.row(ids[c]);
    if (k > 0) {
      int mo = 0;
      if (hs) {
        const int len = m.tree.length[word];
        const int32_t* pts = m.tree.points_of(word);
        const uint8_t* cds = m.tree.codes_of(word);
        for (int j = 0; j < len; ++j) {
          out[mo] = m.syn1.row(pts[j]);
          lab[mo++] = 1.0f - static_cast<float>(cds[j]);
        }
      }
      if (neg > 0) {
        out[mo] = m.syn1neg.row(word);
        lab[mo++] = 1.0f;
        for (int d = 0; d < neg; ++d) {
          const int32_t t = negs[cur][d];
          out[mo] = m.syn1neg.row(t);
          lab[mo++] = t == word ? -1.0f : 0.0f;
        }
      }
      if (mo > 0) {
        if (cbow) {
          K.sum_rows(in, k, w.hidden, stride, tc.cbow_mean ? 1.0f / static_cast<float>(k) : 1.0f);
          float* h = w.hidden;
          w.loss += K.block(&h, 1, out, mo, lab, w.alpha, stride, w.din, w.scratch, true);
          K.add_rows(in, k, w.din, 0, stride);
          w.examples += 1;
        } else {
          w.loss += K.block(in, k, out, mo, lab, w.alpha, stride, w.din, w.scratch, true);
          K.add_rows(in, k, w.din, stride, stride);
          w.examples += k;
        }
      }
    }
    cur ^= 1;
  }
}

}  // namespace qkv::w2v

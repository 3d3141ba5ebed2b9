#include "transformer/decode.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/functions.h"
#include "core/error.h"

namespace qkv::transformer {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Row r of a [R, V] tensor copied to the host as doubles.
void read_row(const std::vector<double>& host, int64_t V, int64_t r, std::vector<double>& out) {
  out.assign(host.begin() + r * V, host.begin() + (r + 1) * V);
}

Tensor ids_column(const std::vector<int32_t>& tokens) {
  return Tensor::from_host(tokens.data(), {static_cast<int64_t>(tokens.size()), 1}, DType::I32);
}

void reorder(std::vector<DecoderLayerCache>& caches, const std::vector<int64_t>& idx) {
  for (DecoderLayerCache& c : caches) {
    if (!c.self.empty()) c.self.k = take_rows(c.self.k, idx), c.self.v = take_rows(c.self.v, idx);
    if (!c.cross.empty()) c.cross.k = take_rows(c.cross.k, idx), c.cross.v = take_rows(c.cross.v, idx);
  }
}

double normalised(double log_prob, int64_t length, double penalty) {
  return log_prob / std::pow(static_cast<double>(std::max<int64_t>(length, 1)), penalty);
}

void check_aborted(const std::function<bool()>& aborted) {
  if (aborted && aborted()) throw Error(ErrorKind::Aborted, "Seq2Seq.translate: aborted");
}

// Greedy decoding of a chunk; rows that finish leave the batch (their caches are dropped).
void greedy(Seq2Seq& model, const Tensor& memory, const std::vector<int32_t>& lengths, const DecodeOptions& o,
            const std::function<bool()>& aborted, Hypothesis* out) {
  const auto& mo = model.options();
  std::vector<int64_t> active(static_cast<size_t>(memory.size(0)));
  for (size_t i = 0; i < active.size(); ++i) active[i] = static_cast<int64_t>(i);
  std::vector<int32_t> lens = lengths, tokens(active.size(), mo.bos_id);
  std::vector<DecoderLayerCache> caches;
  std::vector<double> row;
  for (int64_t t = 0; t < o.max_length && !active.empty(); ++t) {
    check_aborted(aborted);
    Tensor logp = model.step(ids_column(tokens), t, t == 0 ? memory : Tensor(), lens, caches);
    const std::vector<double> host = logp.to_host_doubles();
    const int64_t V = logp.size(1);
    std::vector<int64_t> keep;
    std::vector<int32_t> next;
    for (size_t r = 0; r < active.size(); ++r) {
      read_row(host, V, static_cast<int64_t>(r), row);
      const auto best = std::max_element(row.begin(), row.end()) - row.begin();
      Hypothesis& h = out[active[r]];
      h.log_prob += row[static_cast<size_t>(best)];
      if (best == mo.eos_id) {
        h.finished = true;
      } else {
        h.ids.push_back(static_cast<int32_t>(best));
        keep.push_back(static_cast<int64_t>(r));
        next.push_back(static_cast<int32_t>(best));
      }
    }
    if (keep.size() != active.size() && !keep.empty()) {
      reorder(caches, keep);
      std::vector<int64_t> a;
      std::vector<int32_t> l;
      for (int64_t r : keep) a.push_back(active[r]), l.push_back(lens[r]);
      active.swap(a), lens.swap(l);
    } else if (keep.empty()) {
      active.clear();
    }
    tokens.swap(next);
  }
  for (size_t i = 0; i < static_cast<size_t>(memory.size(0)); ++i) out[i].score = out[i].log_prob;
}

struct Candidate {
  double score;
  int64_t row;
  int32_t token;
};

void beam_search(Seq2Seq& model, const Tensor& memory_in, const std::vector<int32_t>& lengths, const DecodeOptions& o,
                 const std::function<bool()>& aborted, std::vector<Hypothesis>* out) {
  const auto& mo = model.options();
  const int64_t N = memory_in.size(0), K = o.beam_size, R = N * K;
  std::vector<int64_t> expand(static_cast<size_t>(R));
  std::vector<int32_t> lens(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) expand[r] = r / K, lens[r] = lengths[r / K];
  const Tensor memory = take_rows(memory_in, expand);

  std::vector<double> scores(static_cast<size_t>(R), kNegInf);
  for (int64_t b = 0; b < N; ++b) scores[b * K] = 0;  // one live hypothesis per input at first
  std::vector<std::vector<int32_t>> seqs(static_cast<size_t>(R));
  std::vector<std::vector<Hypothesis>> finished(static_cast<size_t>(N));
  std::vector<char> done(static_cast<size_t>(N), 0);
  std::vector<int32_t> tokens(static_cast<size_t>(R), mo.bos_id);
  std::vector<DecoderLayerCache> caches;
  std::vector<double> row;
  std::vector<Candidate> cands;
  const auto worse = [](const Candidate& a, const Candidate& b) { return a.score > b.score; };  // min-heap on score

  int64_t t = 0;
  for (; t < o.max_length; ++t) {
    check_aborted(aborted);
    Tensor logp = model.step(ids_column(tokens), t, t == 0 ? memory : Tensor(), lens, caches);
    const std::vector<double> host = logp.to_host_doubles();
    const int64_t V = logp.size(1);
    std::vector<int64_t> origin(static_cast<size_t>(R));
    std::vector<int32_t> next(static_cast<size_t>(R), mo.pad_id);
    std::vector<double> next_scores(static_cast<size_t>(R), kNegInf);
    for (int64_t b = 0; b < N; ++b) {
      for (int64_t k = 0; k < K; ++k) origin[b * K + k] = b * K + k;
      if (done[b]) continue;
      // The best 2K extensions over the live beams.
      cands.clear();
      const size_t keep = static_cast<size_t>(2 * K);
      for (int64_t k = 0; k < K; ++k) {
        const int64_t r = b * K + k;
        if (scores[r] == kNegInf) continue;
        read_row(host, V, r, row);
        for (size_t v = 0; v < row.size(); ++v) {
          const Candidate c{scores[r] + row[v], r, static_cast<int32_t>(v)};
          if (!(c.score > kNegInf)) continue;
          if (cands.size() < keep) {
            cands.push_back(c);
            std::push_heap(cands.begin(), cands.end(), worse);
          } else if (c.score > cands.front().score) {
            std::pop_heap(cands.begin(), cands.end(), worse);
            cands.back() = c;
            std::push_heap(cands.begin(), cands.end(), worse);
          }
        }
      }
      std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& c) {
        if (a.score != c.score) return a.score > c.score;
        return a.row != c.row ? a.row < c.row : a.token < c.token;
      });
      int64_t filled = 0;
      for (size_t i = 0; i < cands.size() && filled < K; ++i) {
        const Candidate& c = cands[i];
        if (c.token == mo.eos_id) {
          if (static_cast<int64_t>(i) >= K) continue;  // an <eos> below the top K does not finish a hypothesis
          Hypothesis h;
          h.ids = seqs[c.row];
          h.finished = true;
          h.log_prob = c.score;
          h.score = normalised(c.score, t + 1, o.length_penalty);
          finished[b].push_back(std::move(h));
        } else {
          const int64_t slot = b * K + filled++;
          origin[slot] = c.row;
          next[slot] = c.token;
          next_scores[slot] = c.score;
        }
      }
      auto& fin = finished[b];
      std::stable_sort(fin.begin(), fin.end(), [](const Hypothesis& x, const Hypothesis& y) { return x.score > y.score; });
      if (static_cast<int64_t>(fin.size()) > K) fin.resize(static_cast<size_t>(K));
      if (static_cast<int64_t>(fin.size()) == K) {
        double best_live = kNegInf;
        for (int64_t k = 0; k < K; ++k) best_live = std::max(best_live, next_scores[b * K + k]);
        if (best_live == kNegInf || normalised(best_live, t + 1, o.length_penalty) <= fin.back().score) done[b] = 1;
      }
      if (filled == 0) done[b] = 1;
    }
    std::vector<std::vector<int32_t>> new_seqs(static_cast<size_t>(R));
    for (int64_t r = 0; r < R; ++r) {
      if (next_scores[r] == kNegInf) continue;
      new_seqs[r] = seqs[origin[r]];
      new_seqs[r].push_back(next[r]);
    }
    seqs.swap(new_seqs);
    scores.swap(next_scores);
    tokens.swap(next);
    if (std::all_of(done.begin(), done.end(), [](char d) { return d != 0; })) break;
    reorder(caches, origin);
  }
  for (int64_t b = 0; b < N; ++b) {
    auto& fin = finished[b];
    if (!done[b])
      for (int64_t k = 0; k < K; ++k) {
        const int64_t r = b * K + k;
        if (scores[r] == kNegInf) continue;
        Hypothesis h;
        h.ids = seqs[r];
        h.log_prob = scores[r];
        h.score = normalised(scores[r], static_cast<int64_t>(seqs[r].size()), o.length_penalty);
        fin.push_back(std::move(h));
      }
    // Stable: among equal scores the earlier finished stays first.
    std::stable_sort(fin.begin(), fin.end(), [](const Hypothesis& x, const Hypothesis& y) { return x.score > y.score; });
    if (static_cast<int64_t>(fin.size()) > o.num_return) fin.resize(static_cast<size_t>(o.num_return));
    out[b] = std::move(fin);
  }
}

}  // namespace

std::vector<std::vector<Hypothesis>> generate(Seq2Seq& model, const Tensor& src, const std::vector<int32_t>& src_lengths,
                                              const DecodeOptions& o, const std::function<bool()>& aborted) {
  const char* op = "Seq2Seq.translate";
  if (o.beam_size < 1 || o.beam_size > 64) throw_range(std::string(op) + ": beamSize must be in [1, 64]");
  if (o.num_return < 1 || o.num_return > o.beam_size)
    throw_range(std::string(op) + ": numReturn must be an integer in [1, beamSize " + std::to_string(o.beam_size) + "], got " +
                std::to_string(o.num_return));
  if (o.max_length < 1 || o.max_length > model.options().max_len)
    throw_range(std::string(op) + ": maxLength must be in [1, " + std::to_string(model.options().max_len) + "] (the model's maxLength)");
  if (!std::isfinite(o.length_penalty)) throw_range(std::string(op) + ": lengthPenalty must be finite");
  if (o.batch_size < 1) throw_range(std::string(op) + ": batchSize must be positive");
  check_ids(src, src_lengths, model.options().src_vocab, op, "source ids");
  NoGradGuard no_grad;
  nn::ModeGuard mode(model, false);
  const Tensor all = src.contiguous();
  const int64_t N = all.size(0);
  std::vector<std::vector<Hypothesis>> results(static_cast<size_t>(N));
  for (int64_t a = 0; a < N; a += o.batch_size) {
    check_aborted(aborted);
    const int64_t b = std::min(N, a + o.batch_size);
    std::vector<int32_t> lens(src_lengths.begin() + a, src_lengths.begin() + b);
    const int64_t S = *std::max_element(lens.begin(), lens.end());
    const Tensor chunk = all.slice(0, a, b).slice(1, 0, S).contiguous();
    const Tensor memory = model.encode(chunk, lens);
    if (o.beam_size == 1) {
      std::vector<Hypothesis> best(static_cast<size_t>(b - a));
      greedy(model, memory, lens, o, aborted, best.data());
      for (int64_t i = a; i < b; ++i) results[i].push_back(std::move(best[i - a]));
    } else {
      beam_search(model, memory, lens, o, aborted, results.data() + a);
    }
  }
  for (const auto& r : results)
    if (r.empty()) throw Error(ErrorKind::Internal, std::string(op) + ": an input ended without a hypothesis");
  if (o.attention)
    for (int64_t i = 0; i < N; ++i) {
      check_aborted(aborted);
      Hypothesis& best = results[i].front();
      best.attention = cross_attention(model, all.slice(0, i, i + 1), src_lengths[i], best.ids, best.finished);
    }
  return results;
}

Tensor cross_attention(Seq2Seq& model, const Tensor& src_row, int32_t src_length, const std::vector<int32_t>& ids, bool finished) {
  NoGradGuard no_grad;
  nn::ModeGuard mode(model, false);
  const auto& mo = model.options();
  const Tensor src = src_row.slice(1, 0, src_length).contiguous();
  const std::vector<int32_t> lens{src_length};
  std::vector<int32_t> in{mo.bos_id};
  in.insert(in.end(), ids.begin(), ids.end());
  if (!finished) in.pop_back();  // the last token was not followed by a prediction of <eos>
  const int64_t H = mo.layer.heads, L = static_cast<int64_t>(model.decoder->size());
  if (in.empty()) return Tensor::zeros({L, H, 0, src_length}, mo.layer.dtype);
  const Tensor memory = model.encode(src, lens);
  std::vector<Tensor> weights;
  model.decode(Tensor::from_host(in.data(), {1, static_cast<int64_t>(in.size())}, DType::I32), memory, lens, &weights);
  for (Tensor& w : weights) w = w.reshape({1, H, static_cast<int64_t>(in.size()), src_length});
  return ops::concat(weights, 0);
}

}  // namespace qkv::transformer

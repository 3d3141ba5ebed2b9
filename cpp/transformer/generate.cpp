#include "transformer/generate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "core/error.h"
#include "core/random.h"
#include "nn/module.h"
#include "ops/ops.h"

namespace qkv::transformer {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

void check_aborted(const GenerateOptions& o) {
  if (o.aborted && o.aborted()) throw Error(ErrorKind::Aborted, std::string(o.op) + ": aborted");
}

bool is_stop(const GenerateOptions& o, int32_t token) {
  return std::find(o.stop_tokens.begin(), o.stop_tokens.end(), token) != o.stop_tokens.end();
}

double normalised(double log_prob, int64_t length, double penalty) {
  return log_prob / std::pow(static_cast<double>(std::max<int64_t>(length, 1)), penalty);
}

// Log-probabilities [R, V] after the repetition penalty (what scores add up), on the host (the
// loop's choices are host decisions); with `draw`, those after the temperature too (what samples
// are drawn from; top-k and top-p are applied there, per row).
std::vector<double> step_log_probs(StepModel& m, const std::vector<int32_t>& tokens, const std::vector<std::vector<int32_t>>& seen,
                                   const GenerateOptions& o, int64_t* V, std::vector<double>* draw = nullptr) {
  const Tensor logits = m.step(tokens);
  if (logits.dim() != 2 || logits.size(0) != static_cast<int64_t>(tokens.size()))
    throw Error(ErrorKind::Internal, std::string(o.op) + ": the step model returned " + shape_str(logits.shape()) + " for " +
                                         std::to_string(tokens.size()) + " rows");
  *V = logits.size(1);
  const Tensor penalised = process_logits(logits, seen, o.repetition_penalty, 1.0);
  if (draw) {
    const double temperature = o.temperature > 0 ? o.temperature : 1.0;
    *draw = ops::softmax(process_logits(penalised, {}, 1.0, temperature), true).to_host_doubles();
  }
  return ops::softmax(penalised, true).to_host_doubles();
}

int32_t argmax(const double* row, int64_t V) { return static_cast<int32_t>(std::max_element(row, row + V) - row); }

// Greedy or sampled: rows are independent; a finished row leaves the batch.
void independent_rows(StepModel& m, const std::vector<std::vector<int32_t>>& contexts, const GenerateOptions& o,
                      std::vector<std::vector<Hypothesis>>& out) {
  const int64_t N = static_cast<int64_t>(contexts.size()), S = o.sample ? o.num_return : 1, R = N * S;
  std::vector<int64_t> active(static_cast<size_t>(R));  // the result row of each model row
  std::iota(active.begin(), active.end(), 0);
  if (S > 1) {
    std::vector<int64_t> expand(static_cast<size_t>(R));
    for (int64_t r = 0; r < R; ++r) expand[r] = r / S;
    m.reorder(expand);
  }
  std::vector<Hypothesis> hyps(static_cast<size_t>(R));
  std::vector<std::vector<int32_t>> seen(static_cast<size_t>(R));
  std::vector<int32_t> tokens(static_cast<size_t>(R));
  std::vector<Rng> rngs;
  for (int64_t r = 0; r < R; ++r) {
    seen[r] = contexts[r / S];
    tokens[r] = seen[r].back();
    if (o.sample) rngs.emplace_back(nn::derive_seed(nn::derive_seed(o.seed, static_cast<uint64_t>(o.first_input + r / S)), static_cast<uint64_t>(r % S)));
  }
  const bool argmax_only = !o.sample || o.temperature == 0;
  for (int64_t t = 0; t < o.max_new_tokens && !active.empty(); ++t) {
    check_aborted(o);
    int64_t V = 0;
    std::vector<std::vector<int32_t>> row_seen;  // `seen` is by result row; the model's rows are `active`
    if (o.repetition_penalty != 1.0)
      for (int64_t r : active) row_seen.push_back(seen[r]);
    std::vector<double> draw;
    const std::vector<double> host = step_log_probs(m, tokens, row_seen, o, &V, argmax_only ? nullptr : &draw);
    std::vector<int64_t> keep, still;
    std::vector<int32_t> next;
    std::vector<double> row;
    for (size_t i = 0; i < active.size(); ++i) {
      const int64_t r = active[i];
      const double* p = host.data() + static_cast<int64_t>(i) * V;
      int32_t best;
      if (argmax_only) {
        best = argmax(p, V);
      } else {
        row.assign(draw.begin() + static_cast<int64_t>(i) * V, draw.begin() + static_cast<int64_t>(i + 1) * V);
        best = sample_token(row, o.top_k, o.top_p, rngs[r].uniform());
      }
      Hypothesis& h = hyps[r];
      h.log_prob += p[best];
      if (o.on_token) o.on_token(r / S, r % S, best);
      if (is_stop(o, best)) {
        h.finished = true;
        h.stop_token = best;
        continue;
      }
      h.ids.push_back(best);
      keep.push_back(static_cast<int64_t>(i));
      still.push_back(r);
      next.push_back(best);
      seen[r].push_back(best);
    }
    if (!keep.empty() && keep.size() != active.size()) m.reorder(keep);
    active.swap(still);
    tokens.swap(next);
  }
  for (int64_t r = 0; r < R; ++r) {
    hyps[r].score = hyps[r].log_prob;
    out[r / S].push_back(std::move(hyps[r]));
  }
}

struct Candidate {
  double score;
  int64_t row;
  int32_t token;
};

void beam_search(StepModel& m, const std::vector<std::vector<int32_t>>& contexts, const GenerateOptions& o,
                 std::vector<std::vector<Hypothesis>>& out) {
  const int64_t N = static_cast<int64_t>(contexts.size()), K = o.beam_size, R = N * K;
  std::vector<int64_t> expand(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) expand[r] = r / K;
  m.reorder(expand);

  std::vector<double> scores(static_cast<size_t>(R), kNegInf);
  for (int64_t b = 0; b < N; ++b) scores[b * K] = 0;  // one live hypothesis per input at first
  std::vector<std::vector<int32_t>> seqs(static_cast<size_t>(R)), seen(static_cast<size_t>(R));
  std::vector<int32_t> tokens(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) seen[r] = contexts[r / K], tokens[r] = seen[r].back();
  std::vector<std::vector<Hypothesis>> finished(static_cast<size_t>(N));
  std::vector<char> done(static_cast<size_t>(N), 0);
  std::vector<Candidate> cands;
  const auto worse = [](const Candidate& a, const Candidate& b) { return a.score > b.score; };  // min-heap on score

  for (int64_t t = 0; t < o.max_new_tokens; ++t) {
    check_aborted(o);
    int64_t V = 0;
    const std::vector<double> host = step_log_probs(m, tokens, seen, o, &V);
    std::vector<int64_t> origin(static_cast<size_t>(R));
    std::vector<int32_t> next(static_cast<size_t>(R), tokens.empty() ? 0 : tokens[0]);
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
        const double* row = host.data() + r * V;
        for (int64_t v = 0; v < V; ++v) {
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
        if (is_stop(o, c.token)) {
          if (static_cast<int64_t>(i) >= K) continue;  // a stop token below the top K does not finish a hypothesis
          Hypothesis h;
          h.ids = seqs[c.row];
          h.finished = true;
          h.stop_token = c.token;
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
    std::vector<std::vector<int32_t>> new_seqs(static_cast<size_t>(R)), new_seen(static_cast<size_t>(R));
    for (int64_t r = 0; r < R; ++r) {
      if (next_scores[r] == kNegInf) continue;
      new_seqs[r] = seqs[origin[r]];
      new_seqs[r].push_back(next[r]);
      if (o.repetition_penalty != 1.0) {
        new_seen[r] = seen[origin[r]];
        new_seen[r].push_back(next[r]);
      }
    }
    seqs.swap(new_seqs);
    if (o.repetition_penalty != 1.0) seen.swap(new_seen);
    scores.swap(next_scores);
    tokens.swap(next);
    if (std::all_of(done.begin(), done.end(), [](char d) { return d != 0; })) break;
    m.reorder(origin);
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
    if (o.on_token && !fin.empty()) {
      for (int32_t id : fin.front().ids) o.on_token(b, 0, id);
      if (fin.front().finished) o.on_token(b, 0, fin.front().stop_token);
    }
    out[b] = std::move(fin);
  }
}

}  // namespace

void check_generate_options(const GenerateOptions& o, int64_t limit) {
  const std::string op = o.op;
  if (o.beam_size < 1 || o.beam_size > 64) throw_range(op + ": beamSize must be in [1, 64]");
  if (o.sample && o.beam_size != 1) throw_range(op + ": sampling decodes with beamSize 1");
  if (o.sample) {
    if (o.num_return < 1 || o.num_return > 64) throw_range(op + ": numReturn must be an integer in [1, 64] when sampling");
  } else if (o.num_return < 1 || o.num_return > o.beam_size) {
    throw_range(op + ": numReturn must be an integer in [1, beamSize " + std::to_string(o.beam_size) + "], got " + std::to_string(o.num_return));
  }
  if (o.max_new_tokens < 1 || o.max_new_tokens > limit) throw_range(op + ": maxNewTokens must be in [1, " + std::to_string(limit) + "]");
  if (!std::isfinite(o.length_penalty)) throw_range(op + ": lengthPenalty must be finite");
  if (!(o.temperature >= 0) || !std::isfinite(o.temperature)) throw_range(op + ": temperature must be a finite number >= 0");
  if (o.top_k < 0) throw_range(op + ": topK must be >= 0");
  if (!(o.top_p > 0 && o.top_p <= 1)) throw_range(op + ": topP must be in (0, 1]");
  // Past 1e4 (or below 1e-4) a penalised logit can overflow to infinity and the scores stop being numbers.
  if (!(o.repetition_penalty >= 1e-4 && o.repetition_penalty <= 1e4)) throw_range(op + ": repetitionPenalty must be in [1e-4, 1e4]");
}

std::vector<std::vector<Hypothesis>> generate(StepModel& model, const std::vector<std::vector<int32_t>>& contexts,
                                              const GenerateOptions& o) {
  for (const auto& c : contexts)
    if (c.empty()) throw_range(std::string(o.op) + ": every input needs a context of at least one token");
  std::vector<std::vector<Hypothesis>> out(contexts.size());
  if (contexts.empty()) return out;
  if (o.beam_size > 1) beam_search(model, contexts, o, out);
  else independent_rows(model, contexts, o, out);
  return out;
}

Tensor process_logits(const Tensor& logits, const std::vector<std::vector<int32_t>>& seen, double penalty, double temperature) {
  Tensor x = logits;
  if (penalty != 1.0) {
    // x' = a * relu(x) + b * (x - relu(x)): a = 1/p, b = p on the seen tokens, 1 elsewhere.
    const int64_t R = x.size(0), V = x.size(1);
    std::vector<double> a(static_cast<size_t>(R * V), 1.0), b(static_cast<size_t>(R * V), 1.0);
    for (int64_t r = 0; r < R && r < static_cast<int64_t>(seen.size()); ++r)
      for (int32_t id : seen[r])
        if (id >= 0 && id < V) a[r * V + id] = 1.0 / penalty, b[r * V + id] = penalty;
    const Tensor ta = Tensor::from_host(a.data(), {R, V}, DType::F64).to(x.dtype());
    const Tensor tb = Tensor::from_host(b.data(), {R, V}, DType::F64).to(x.dtype());
    const Tensor pos = ops::unary(ops::UnaryOp::Relu, x);
    x = ops::binary(ops::BinaryOp::Add, ops::binary(ops::BinaryOp::Mul, pos, ta), ops::binary(ops::BinaryOp::Mul, ops::binary(ops::BinaryOp::Sub, x, pos), tb));
  }
  if (temperature != 1.0) {
    const Tensor inv = Tensor::scalar(1.0 / temperature, x.dtype());
    x = ops::binary(ops::BinaryOp::Mul, x, inv);
  }
  return x;
}

int32_t sample_token(const std::vector<double>& logp, int64_t top_k, double top_p, double u) {
  const int64_t V = static_cast<int64_t>(logp.size());
  std::vector<int32_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  const auto more_likely = [&](int32_t a, int32_t b) { return logp[a] != logp[b] ? logp[a] > logp[b] : a < b; };
  const int64_t k = top_k > 0 ? std::min(top_k, V) : V;
  std::partial_sort(order.begin(), order.begin() + k, order.end(), more_likely);
  order.resize(static_cast<size_t>(k));
  // Probabilities renormalised over the top k, then the nucleus: the most likely tokens until their
  // mass reaches top_p (the token that crosses it included).
  std::vector<double> p(order.size());
  double total = 0;
  for (size_t i = 0; i < order.size(); ++i) total += p[i] = std::exp(logp[order[i]] - logp[order[0]]);
  size_t n = order.size();
  if (top_p < 1) {
    double mass = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      mass += p[i] / total;
      if (mass >= top_p) {
        n = i + 1;
        break;
      }
    }
  }
  double kept = 0;
  for (size_t i = 0; i < n; ++i) kept += p[i];
  double target = u * kept;
  for (size_t i = 0; i < n; ++i) {
    target -= p[i];
    if (target < 0) return order[i];
  }
  return order[n - 1];
}

}  // namespace qkv::transformer

#include "word2vec/sampling.h"

#include <cmath>

namespace qkv::w2v {

void UnigramTable::build(const std::vector<int64_t>& counts, double exponent) {
  const size_t n = counts.size();
  prob_.assign(n, 0);
  alias_.assign(n, 0);
  p_.assign(n, 0);
  n_ = n;
  if (n == 0) return;
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    p_[i] = std::pow(static_cast<double>(counts[i]), exponent);
    total += p_[i];
  }
  if (!(total > 0)) {
    for (size_t i = 0; i < n; ++i) p_[i] = 1.0 / n;
    total = 1;
  }
  for (size_t i = 0; i < n; ++i) p_[i] /= total;
  // Vose's alias method, in double precision.
  std::vector<double> scaled(n);
  std::vector<int32_t> small, large;
  for (size_t i = 0; i < n; ++i) {
    scaled[i] = p_[i] * n;
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<int32_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    int32_t s = small.back(), l = large.back();
    small.pop_back();
    double keep = scaled[s] * 4294967296.0;
    prob_[s] = keep >= 4294967295.0 ? 4294967295u : static_cast<uint32_t>(keep);
    alias_[s] = l;
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  for (int32_t i : large) { prob_[i] = 4294967295u; alias_[i] = i; }
  for (int32_t i : small) { prob_[i] = 4294967295u; alias_[i] = i; }  // rounding leftovers
}

std::vector<uint64_t> subsample_keep(const std::vector<int64_t>& counts, double sample) {
  std::vector<uint64_t> keep(counts.size(), uint64_t(1) << 32);
  if (!(sample > 0)) return keep;
  double total = 0;
  for (int64_t c : counts) total += static_cast<double>(c);
  const double t = sample * total;
  for (size_t i = 0; i < counts.size(); ++i) {
    double f = static_cast<double>(counts[i]);
    if (f <= 0) continue;
    double p = (std::sqrt(f / t) + 1.0) * t / f;
    if (p < 1.0) keep[i] = static_cast<uint64_t>(std::llround(p * 4294967296.0));
  }
  return keep;
}

}  // namespace qkv::w2v

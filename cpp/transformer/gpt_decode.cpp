#include "transformer/gpt_decode.h"

#include <algorithm>

#include "autograd/functions.h"
#include "core/error.h"

namespace qkv::transformer {

GPTStepModel::GPTStepModel(GPT& model, const std::vector<std::vector<int32_t>>& contexts, int64_t max_new_tokens) : model_(model) {
  std::vector<std::vector<int32_t>> prefix;
  int64_t longest = 0;
  for (const auto& c : contexts) {
    if (c.empty()) throw_range("GPT.generate: a prompt needs at least one token");
    prefix.emplace_back(c.begin(), c.end() - 1);
    longest = std::max<int64_t>(longest, static_cast<int64_t>(c.size()));
  }
  capacity_ = std::min(model.options().max_len, longest + max_new_tokens);
  // A prompt longer than the context keeps its last maxLength - 1 tokens before the newest.
  const size_t keep = static_cast<size_t>(model.options().max_len - 1);
  for (auto& p : prefix)
    if (p.size() > keep) p.erase(p.begin(), p.end() - static_cast<std::ptrdiff_t>(keep));
  prefill(prefix);
}

void GPTStepModel::prefill(const std::vector<std::vector<int32_t>>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size());
  int64_t P = 0;
  for (const auto& r : rows) P = std::max<int64_t>(P, static_cast<int64_t>(r.size()));
  caches_.assign(model_.size(), BlockCache());
  for (BlockCache& c : caches_) c.self.capacity = capacity_;
  starts_.assign(static_cast<size_t>(B), 0);
  history_ = rows;
  if (P == 0) return;
  std::vector<int32_t> ids(static_cast<size_t>(B * P), 0);
  for (int64_t b = 0; b < B; ++b) {
    starts_[b] = static_cast<int32_t>(P - static_cast<int64_t>(rows[b].size()));
    std::copy(rows[b].begin(), rows[b].end(), ids.begin() + b * P + starts_[b]);
  }
  model_.hidden(Tensor::from_host(ids.data(), {B, P}, DType::I32), starts_, &caches_);
}

Tensor GPTStepModel::step(const std::vector<int32_t>& tokens) {
  const int64_t R = static_cast<int64_t>(tokens.size());
  if (caches_.front().self.length + 1 > model_.options().max_len) {
    // Slide: keep the last half of the context before the newest tokens.
    const size_t keep = static_cast<size_t>(model_.options().max_len / 2);
    std::vector<std::vector<int32_t>> rows;
    for (const auto& h : history_) rows.emplace_back(h.end() - static_cast<std::ptrdiff_t>(std::min(keep, h.size())), h.end());
    prefill(rows);
  }
  for (int64_t r = 0; r < R; ++r) history_[r].push_back(tokens[r]);
  const Tensor ids = Tensor::from_host(tokens.data(), {R, 1}, DType::I32);
  const Tensor h = model_.hidden(ids, starts_, &caches_);
  return model_.logits(ag::reshape(h, {R, h.size(2)}));
}

void GPTStepModel::reorder(const std::vector<int64_t>& rows) {
  for (BlockCache& c : caches_) c.self.reorder(rows);
  std::vector<int32_t> starts;
  std::vector<std::vector<int32_t>> history;
  for (int64_t r : rows) {
    starts.push_back(starts_.at(static_cast<size_t>(r)));
    history.push_back(history_.at(static_cast<size_t>(r)));
  }
  starts_.swap(starts);
  history_.swap(history);
}

std::vector<std::vector<Hypothesis>> generate(GPT& model, const std::vector<std::vector<int32_t>>& prompts, const GPTGenerateOptions& o,
                                              const std::function<bool()>& aborted) {
  const char* op = "GPT.generate";
  const auto& mo = model.options();
  if (prompts.empty()) throw_range(std::string(op) + ": no prompts");
  if (o.batch_size < 1) throw_range(std::string(op) + ": batchSize must be positive");
  for (const auto& p : prompts) {
    if (p.empty()) throw_range(std::string(op) + ": a prompt needs at least one token");
    for (int32_t t : p)
      if (t < 0 || t >= mo.vocab_size)
        throw_range(std::string(op) + ": a prompt holds id " + std::to_string(t) + " outside the vocabulary of " + std::to_string(mo.vocab_size));
  }
  GenerateOptions g = o.generate;
  g.op = op;
  g.aborted = aborted;
  g.stop_tokens.clear();
  if (o.stop_at_eos && mo.eos_id >= 0) g.stop_tokens.push_back(mo.eos_id);
  for (int32_t t : o.generate.stop_tokens) {
    if (t < 0 || t >= mo.vocab_size)
      throw_range(std::string(op) + ": stop token " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(mo.vocab_size));
    g.stop_tokens.push_back(t);
  }
  check_generate_options(g, int64_t{1} << 30);
  NoGradGuard no_grad;
  nn::ModeGuard mode(model, false);
  const int64_t N = static_cast<int64_t>(prompts.size());
  std::vector<std::vector<Hypothesis>> results(static_cast<size_t>(N));
  for (int64_t a = 0; a < N; a += o.batch_size) {
    if (aborted && aborted()) throw Error(ErrorKind::Aborted, std::string(op) + ": aborted");
    const int64_t b = std::min(N, a + o.batch_size);
    const std::vector<std::vector<int32_t>> chunk(prompts.begin() + a, prompts.begin() + b);
    GPTStepModel stepper(model, chunk, g.max_new_tokens);
    g.first_input = a;
    if (o.generate.on_token) g.on_token = [&](int64_t input, int64_t sample, int32_t token) { o.generate.on_token(a + input, sample, token); };
    auto chunk_results = transformer::generate(stepper, chunk, g);
    for (int64_t i = a; i < b; ++i) results[i] = std::move(chunk_results[i - a]);
  }
  return results;
}

}  // namespace qkv::transformer

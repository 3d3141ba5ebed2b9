#include "transformer/decode.h"

#include <algorithm>
#include <cmath>

#include "autograd/functions.h"
#include "core/error.h"

namespace qkv::transformer {

Seq2SeqStepModel::Seq2SeqStepModel(Seq2Seq& model, Tensor memory, std::vector<int32_t> src_lengths, int64_t max_steps)
    : model_(model), memory_(std::move(memory)), lengths_(std::move(src_lengths)), caches_(model.decoder->size()) {
  for (DecoderLayerCache& c : caches_) c.self.capacity = max_steps;
}

Tensor Seq2SeqStepModel::step(const std::vector<int32_t>& tokens) {
  const Tensor ids = Tensor::from_host(tokens.data(), {static_cast<int64_t>(tokens.size()), 1}, DType::I32);
  // The memory is projected into the cross-attention caches on the first step only.
  Tensor logits = model_.step_logits(ids, position_, position_ == 0 ? memory_ : Tensor(), lengths_, caches_);
  if (position_++ == 0) memory_ = Tensor();
  return logits;
}

void Seq2SeqStepModel::reorder(const std::vector<int64_t>& rows) {
  if (memory_.defined()) memory_ = take_rows(memory_, rows);
  for (DecoderLayerCache& c : caches_) c.self.reorder(rows), c.cross.reorder(rows);
  std::vector<int32_t> l;
  for (int64_t r : rows) l.push_back(lengths_.at(static_cast<size_t>(r)));
  lengths_.swap(l);
}

std::vector<std::vector<Hypothesis>> generate(Seq2Seq& model, const Tensor& src, const std::vector<int32_t>& src_lengths,
                                              const DecodeOptions& o, const std::function<bool()>& aborted) {
  const char* op = "Seq2Seq.translate";
  const auto& mo = model.options();
  const int64_t max_length = o.generate.max_new_tokens;
  if (max_length < 1 || max_length > mo.max_len)
    throw_range(std::string(op) + ": maxLength must be in [1, " + std::to_string(mo.max_len) + "] (the model's maxLength)");
  if (o.batch_size < 1) throw_range(std::string(op) + ": batchSize must be positive");
  GenerateOptions g = o.generate;
  g.op = op;
  g.aborted = aborted;
  g.stop_tokens = {mo.eos_id};
  for (int32_t t : o.generate.stop_tokens) {
    if (t < 0 || t >= mo.tgt_vocab)
      throw_range(std::string(op) + ": stop token " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(mo.tgt_vocab));
    g.stop_tokens.push_back(t);
  }
  check_generate_options(g, mo.max_len);
  check_ids(src, src_lengths, mo.src_vocab, op, "source ids");
  NoGradGuard no_grad;
  nn::ModeGuard mode(model, false);
  const Tensor all = src.contiguous();
  const int64_t N = all.size(0);
  std::vector<std::vector<Hypothesis>> results(static_cast<size_t>(N));
  for (int64_t a = 0; a < N; a += o.batch_size) {
    if (aborted && aborted()) throw Error(ErrorKind::Aborted, std::string(op) + ": aborted");
    const int64_t b = std::min(N, a + o.batch_size);
    std::vector<int32_t> lens(src_lengths.begin() + a, src_lengths.begin() + b);
    const int64_t S = *std::max_element(lens.begin(), lens.end());
    const Tensor chunk = all.slice(0, a, b).slice(1, 0, S).contiguous();
    const Tensor memory = model.encode(chunk, lens);
    Seq2SeqStepModel stepper(model, memory, lens, max_length);
    g.first_input = a;
    if (o.generate.on_token) g.on_token = [&](int64_t input, int64_t sample, int32_t token) { o.generate.on_token(a + input, sample, token); };
    auto chunk_results = transformer::generate(stepper, std::vector<std::vector<int32_t>>(static_cast<size_t>(b - a), {mo.bos_id}), g);
    for (int64_t i = a; i < b; ++i) results[i] = std::move(chunk_results[i - a]);
  }
  for (const auto& r : results)
    if (r.empty()) throw Error(ErrorKind::Internal, std::string(op) + ": an input ended without a hypothesis");
  if (o.attention)
    for (int64_t i = 0; i < N; ++i) {
      if (aborted && aborted()) throw Error(ErrorKind::Aborted, std::string(op) + ": aborted");
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

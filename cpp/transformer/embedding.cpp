#include "transformer/embedding.h"

#include <cmath>

#include "autograd/functions.h"
#include "core/error.h"

namespace qkv::transformer {

std::shared_ptr<nn::Embedding> token_table(int64_t vocab, int64_t dim, DType dtype, uint64_t seed) {
  nn::EmbeddingOptions eo;
  eo.dtype = dtype;
  eo.init = {nn::InitKind::Normal, 1.0 / std::sqrt(static_cast<double>(dim))};
  eo.seed = seed;
  return std::make_shared<nn::Embedding>(vocab, dim, eo);
}

Tensor tied_logits(const Tensor& h, const Tensor& table, const Tensor& bias) {
  Shape s = h.shape();
  const int64_t D = s.back(), M = h.numel() / D;
  Tensor flat = ag::matmul(ag::reshape(h, {M, D}), ag::transpose(table, 0, 1));
  if (bias.defined()) flat = ag::add(flat, bias);
  s.back() = table.size(0);
  return ag::reshape(flat, s);
}

TokenEmbedding::TokenEmbedding(const TokenEmbeddingOptions& o) : Module("TokenEmbedding"), o_(o) {
  if (o.vocab_size <= 0 || o.dim <= 0 || o.max_len <= 0) throw_range("TokenEmbedding: vocabSize, dim and maxLength must be positive");
  table = register_module("embed", token_table(o.vocab_size, o.dim, o.dtype, nn::derive_seed(o.seed, 0)));
  pos = register_module("pos", make_positional(o.positional, o.max_len, o.dim, o.dtype, nn::derive_seed(o.seed, 1)));
}

TokenEmbedding::TokenEmbedding(std::shared_ptr<nn::Embedding> t, std::shared_ptr<PositionalEncoding> p, bool scale)
    : Module("TokenEmbedding"), table(std::move(t)), pos(std::move(p)) {
  o_.vocab_size = table->weight.size(0);
  o_.dim = table->weight.size(1);
  o_.max_len = pos->max_len();
  o_.positional = std::dynamic_pointer_cast<LearnedPositionalEmbedding>(pos) ? PositionalKind::Learned : PositionalKind::Sinusoidal;
  o_.scale = scale;
  o_.dtype = table->weight.dtype();
}

Tensor TokenEmbedding::scaled(const Tensor& ids) {
  Tensor x = table->forward(ids);
  return o_.scale ? ag::scale(x, std::sqrt(static_cast<double>(o_.dim))) : x;
}

Tensor TokenEmbedding::embed_ids(const Tensor& ids, int64_t offset) { return pos->add(scaled(ids), offset); }

Tensor TokenEmbedding::embed_ids(const Tensor& ids, const std::vector<int64_t>& offsets) { return pos->add_rows(scaled(ids), offsets); }

json::Value TokenEmbedding::config() const {
  json::Value c = json::Value::object();
  c.set("type", json::Value::string("TokenEmbedding"));
  c.set("vocabSize", json::Value::integer(o_.vocab_size));
  c.set("dim", json::Value::integer(o_.dim));
  c.set("maxLength", json::Value::integer(o_.max_len));
  c.set("positional", json::Value::string(positional_name(o_.positional)));
  c.set("scale", json::Value::boolean(o_.scale));
  c.set("dtype", json::Value::string(dtype_name(o_.dtype)));
  c.set("seed", json::Value::string(std::to_string(o_.seed)));
  return c;
}

}  // namespace qkv::transformer

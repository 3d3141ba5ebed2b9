#include "transformer/gpt.h"

#include <cmath>

#include "autograd/functions.h"
#include "core/error.h"
#include "nn/factory.h"
#include "nn/init.h"

namespace qkv::transformer {

namespace {

json::Value integer(int64_t v) { return json::Value::integer(v); }
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
constexpr int32_t kIgnoreIndex = -100;

}  // namespace

GPT::GPT(const GPTOptions& o) : Module("GPT"), o_(o) {
  const char* op = "GPT";
  if (o.vocab_size <= 0 || o.max_len <= 0 || o.layers < 1) throw_range(std::string(op) + ": vocabSize, maxLength and layers must be positive");
  if (o.eos_id < -1 || o.eos_id >= o.vocab_size)
    throw_range(std::string(op) + ": eosId " + std::to_string(o.eos_id) + " is outside the vocabulary of " + std::to_string(o.vocab_size));
  if (o.num_classes < 0) throw_range(std::string(op) + ": numClasses must be >= 0");
  if (!(o.embedding_dropout >= 0 && o.embedding_dropout < 1) || !(o.classifier_dropout >= 0 && o.classifier_dropout < 1))
    throw_range(std::string(op) + ": dropout rates must be in [0, 1)");
  if (!(o.init_std > 0)) throw_range(std::string(op) + ": initStd must be positive");
  const uint64_t seed = o.layer.seed;
  const int64_t D = o.layer.dim;
  wte = register_module("wte", token_table(o.vocab_size, D, o.layer.dtype, nn::derive_seed(seed, 100)));
  wpe = register_module("wpe", std::make_shared<LearnedPositionalEmbedding>(o.max_len, D, o.layer.dtype, nn::derive_seed(seed, 101)));
  tokens_ = std::make_shared<TokenEmbedding>(wte, wpe, false);
  dropout_seed_ = nn::derive_seed(seed, 102);
  auto h = register_module("h", std::make_shared<nn::Sequential>());
  for (int64_t i = 0; i < o.layers; ++i) {
    BlockOptions b;
    b.layer = o.layer;
    b.layer.seed = nn::derive_seed(nn::derive_seed(seed, 103), static_cast<uint64_t>(i));
    b.causal = true;
    blocks_.push_back(std::make_shared<TransformerBlock>(b));
    h->append(blocks_.back());
  }
  if (o.layer.pre_norm) {
    nn::LayerNormOptions lo;
    lo.eps = o.layer.eps;
    lo.dtype = o.layer.dtype;
    ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(D, lo));
  }
  nn::LinearOptions lin;
  lin.dtype = o.layer.dtype;
  if (!o.tie_output) {
    lin.bias = false;
    lin.seed = nn::derive_seed(seed, 104);
    lm_head = register_module("lm_head", std::make_shared<nn::Linear>(D, o.vocab_size, lin));
  }
  if (o.num_classes > 0) {
    lin.bias = true;
    lin.seed = nn::derive_seed(seed, 105);
    clf = register_module("clf", std::make_shared<nn::Linear>(D, o.num_classes, lin));
  }
  initialize_weights();
}

void GPT::initialize_weights() {
  const double std = o_.init_std, residual_std = std / std::sqrt(2.0 * static_cast<double>(o_.layers));
  uint64_t k = 0;
  const uint64_t seed = nn::derive_seed(o_.layer.seed, 200);
  for (auto& [name, p] : named_parameters()) {
    ++k;
    if (p.dim() < 2) continue;  // biases stay zero, norms one
    const bool residual = ends_with(name, ".self_attn.out_proj.weight") || ends_with(name, ".linear2.weight");
    nn::fill_normal(p, 0.0, residual ? residual_std : std, nn::derive_seed(seed, k));
  }
}

Tensor GPT::hidden(const Tensor& ids, const std::vector<int32_t>& starts, std::vector<BlockCache>* caches, std::vector<Tensor>* weights) {
  const char* op = "GPT";
  if (!ids.defined() || ids.dtype() != DType::I32 || ids.dim() != 2 || ids.size(0) == 0 || ids.size(1) == 0)
    throw_range(std::string(op) + ": ids must be a non-empty int32 [batch, length] tensor");
  const int64_t B = ids.size(0), T = ids.size(1);
  const int64_t past = caches && !caches->empty() ? caches->front().self.length : 0;
  if (past + T > o_.max_len)
    throw_range(std::string(op) + ": " + std::to_string(past + T) + " positions exceed the context length " + std::to_string(o_.max_len));
  if (caches && caches->size() != blocks_.size()) throw_range(std::string(op) + ": one cache per block is needed");
  if (!starts.empty() && static_cast<int64_t>(starts.size()) != B) throw_range(std::string(op) + ": one start per row is needed");
  Tensor x;
  if (starts.empty()) {
    x = tokens_->embed_ids(ids, past);
  } else {
    std::vector<int64_t> offsets(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) offsets[b] = past - starts[b];
    x = tokens_->embed_ids(ids, offsets);
  }
  if (is_training() && o_.embedding_dropout > 0) x = ag::dropout(x, o_.embedding_dropout, nn::derive_seed(dropout_seed_, dropout_calls_++));
  if (weights) weights->assign(blocks_.size(), Tensor());
  for (size_t i = 0; i < blocks_.size(); ++i) {
    BlockInputs in;
    in.key_starts = starts;
    if (caches) {
      in.cache = &(*caches)[i];
      if (in.cache->self.starts.empty()) in.cache->self.starts = starts;
      in.key_starts.clear();  // the cache's starts apply
    }
    if (weights) in.self_weights = &(*weights)[i];
    x = blocks_[i]->run(x, in);
  }
  return ln_f ? ln_f->forward(x) : x;
}

Tensor GPT::logits(const Tensor& h) { return lm_head ? lm_head->forward(h) : tokens_->logits(h, Tensor()); }

Tensor GPT::lm_loss(const Tensor& ids) {
  const int64_t B = ids.size(0), T = ids.size(1);
  if (T < 2) throw_range("GPT: language modelling needs sequences of at least 2 tokens");
  const Tensor in = ids.slice(1, 0, T - 1).contiguous(), target = ids.slice(1, 1, T).contiguous();
  Tensor lg = logits(hidden(in));
  const int64_t M = B * (T - 1);
  return ag::cross_entropy(ag::reshape(lg, {M, o_.vocab_size}), target.reshape({M}), kIgnoreIndex, 0);
}

Tensor GPT::lm_loss(const Tensor& h, const Tensor& ids, const std::vector<int32_t>& lengths) {
  const int64_t B = ids.size(0), T = ids.size(1);
  if (T < 2) throw_range("GPT: language modelling needs sequences of at least 2 tokens");
  std::vector<int32_t> host(static_cast<size_t>(B * T));
  ids.to_host(host.data());
  std::vector<int32_t> target(static_cast<size_t>(B * (T - 1)));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + 1 < T; ++t) target[b * (T - 1) + t] = t + 1 < lengths[b] ? host[b * T + t + 1] : kIgnoreIndex;
  const int64_t M = B * (T - 1);
  Tensor lg = logits(ag::slice(h, 1, 0, T - 1, 1));
  return ag::cross_entropy(ag::reshape(lg, {M, o_.vocab_size}), Tensor::from_host(target.data(), {M}, DType::I32), kIgnoreIndex, 0);
}

Tensor GPT::extract(const Tensor& h, const std::vector<int64_t>& at) {
  const int64_t B = h.size(0), T = h.size(1), D = h.size(2);
  if (static_cast<int64_t>(at.size()) != B) throw_range("GPT: one extract position per row is needed");
  std::vector<int64_t> rows(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    if (at[b] < 0 || at[b] >= T) throw_range("GPT: extract position " + std::to_string(at[b]) + " is outside the sequence");
    rows[b] = b * T + at[b];
  }
  return ag::index_select(ag::reshape(h, {B * T, D}), rows);
}

Tensor GPT::classifier_logits(const Tensor& features) {
  if (!clf) throw Error(ErrorKind::Unsupported, "GPT: this model has no classifier head (numClasses is 0)");
  Tensor x = features;
  if (is_training() && o_.classifier_dropout > 0)
    x = ag::dropout(x, o_.classifier_dropout, nn::derive_seed(dropout_seed_ ^ 0x9e3779b97f4a7c15ULL, dropout_calls_++));
  return clf->forward(x);
}

json::Value GPT::config() const {
  json::Value c = json::Value::object();
  c.set("type", json::Value::string("GPT"));
  c.set("vocabSize", integer(o_.vocab_size));
  c.set("maxLength", integer(o_.max_len));
  c.set("layers", integer(o_.layers));
  write_layer_options(c, o_.layer);
  c.set("embeddingDropout", json::Value::number(o_.embedding_dropout));
  c.set("tieOutput", json::Value::boolean(o_.tie_output));
  c.set("initStd", json::Value::number(o_.init_std));
  c.set("eosId", integer(o_.eos_id));
  c.set("numClasses", integer(o_.num_classes));
  c.set("classifierDropout", json::Value::number(o_.classifier_dropout));
  return c;
}

nn::ModulePtr build_gpt(const json::Value& c) {
  nn::ConfigReader r{c, "load: GPT"};
  GPTOptions o;
  o.vocab_size = r.integer("vocabSize");
  o.max_len = r.integer_or("maxLength", 1024);
  o.layers = r.integer_or("layers", 12);
  o.layer = read_layer_options(r);
  o.embedding_dropout = r.number_or("embeddingDropout", o.layer.dropout);
  o.tie_output = r.boolean_or("tieOutput", true);
  o.init_std = r.number_or("initStd", 0.02);
  const int64_t eos = r.integer_or("eosId", -1);
  if (eos < -1 || eos > INT32_MAX) throw Error(ErrorKind::Format, r.where + ".eosId is out of range");
  o.eos_id = static_cast<int32_t>(eos);
  o.num_classes = r.integer_or("numClasses", 0);
  o.classifier_dropout = r.number_or("classifierDropout", 0.1);
  return std::make_shared<GPT>(o);
}

}  // namespace qkv::transformer

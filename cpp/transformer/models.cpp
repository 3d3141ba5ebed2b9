#include "transformer/models.h"

#include <algorithm>

#include <cmath>
#include <mutex>

#include "autograd/functions.h"
#include "clip/dual_encoder.h"
#include "core/error.h"
#include "nn/factory.h"
#include "transformer/gpt.h"

namespace qkv::transformer {

namespace {

json::Value str(const std::string& s) { return json::Value::string(s); }
json::Value integer(int64_t v) { return json::Value::integer(v); }

int32_t check_special(int64_t id, int64_t vocab, const char* op, const char* what) {
  if (id < 0 || id >= vocab)
    throw_range(std::string(op) + ": " + what + " " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab));
  return static_cast<int32_t>(id);
}

}  // namespace

void check_ids(const Tensor& ids, const std::vector<int32_t>& lengths, int64_t vocab, const char* op, const char* what) {
  if (!ids.defined() || ids.dtype() != DType::I32) throw_type(std::string(op) + ": " + what + " must be int32 token ids");
  if (ids.dim() != 2 || ids.size(0) == 0 || ids.size(1) == 0)
    throw_range(std::string(op) + ": " + what + " must be a non-empty [batch, length] tensor, got " + shape_str(ids.shape()));
  const int64_t B = ids.size(0), L = ids.size(1);
  if (static_cast<int64_t>(lengths.size()) != B)
    throw_range(std::string(op) + ": " + std::to_string(lengths.size()) + " lengths for " + std::to_string(B) + " rows of " + what);
  for (int64_t b = 0; b < B; ++b)
    if (lengths[b] < 1 || lengths[b] > L)
      throw_range(std::string(op) + ": " + what + " length " + std::to_string(lengths[b]) + " of row " + std::to_string(b) +
                  " is outside [1, " + std::to_string(L) + "]");
  std::vector<int32_t> p(static_cast<size_t>(B * L));
  ids.to_host(p.data());
  for (int64_t i = 0; i < B * L; ++i)
    if (p[i] < 0 || p[i] >= vocab)
      throw_range(std::string(op) + ": " + what + " holds id " + std::to_string(p[i]) + " outside the vocabulary of " + std::to_string(vocab));
}

// ---- BertEncoder ---------------------------------------------------------------------------

bool EncoderOptions::is_special(int32_t id) const {
  if (special_ids.empty()) return id < num_specials;
  return std::find(special_ids.begin(), special_ids.end(), id) != special_ids.end();
}

BertEncoder::BertEncoder(const EncoderOptions& o) : Module("TransformerEncoder"), o_(o) {
  const char* op = "TransformerEncoder";
  if (o.vocab_size <= 0 || o.max_len <= 0 || o.layers < 1) throw_range(std::string(op) + ": vocabSize, maxLength and layers must be positive");
  if (o.num_classes < 0) throw_range(std::string(op) + ": numClasses must be >= 0");
  check_special(o.pad_id, o.vocab_size, op, "padId");
  if (o.mlm_head) check_special(o.mask_id, o.vocab_size, op, "maskId");
  if (o.num_specials < 0 || o.num_specials >= o.vocab_size) throw_range(std::string(op) + ": numSpecials must leave ordinary tokens");
  for (int32_t id : o.special_ids) check_special(id, o.vocab_size, op, "specialIds");
  if (static_cast<int64_t>(o.special_ids.size()) >= o.vocab_size) throw_range(std::string(op) + ": specialIds must leave ordinary tokens");
  const uint64_t seed = o.layer.seed;
  embed = register_module("embed", token_table(o.vocab_size, o.layer.dim, o.layer.dtype, nn::derive_seed(seed, 100)));
  pos = register_module("pos", make_positional(o.positional, o.max_len, o.layer.dim, o.layer.dtype, nn::derive_seed(seed, 101)));
  tokens_ = std::make_shared<TokenEmbedding>(embed, pos, true);
  dropout_seed_ = nn::derive_seed(seed, 102);
  LayerOptions lo = o.layer;
  lo.seed = nn::derive_seed(seed, 103);
  encoder = register_module("encoder", std::make_shared<TransformerEncoderStack>(lo, o.layers));
  if (o.mlm_head) mlm_bias = register_parameter("mlm_bias", Tensor::zeros({o.vocab_size}, o.layer.dtype));
  if (o.num_classes > 0) {
    nn::LinearOptions co;
    co.dtype = o.layer.dtype;
    co.seed = nn::derive_seed(seed, 104);
    classifier = register_module("classifier", std::make_shared<nn::Linear>(o.layer.dim, o.num_classes, co));
  }
}

Tensor BertEncoder::hidden(const Tensor& ids, const std::vector<int32_t>& lengths, std::vector<Tensor>* weights) {
  check_ids(ids, lengths, o_.vocab_size, "TransformerEncoder", "ids");
  if (ids.size(1) > o_.max_len)
    throw_range("TransformerEncoder: sequences of " + std::to_string(ids.size(1)) + " tokens exceed maxLength " + std::to_string(o_.max_len));
  Tensor x = tokens_->embed_ids(ids, 0);
  if (is_training() && o_.layer.dropout > 0) x = ag::dropout(x, o_.layer.dropout, nn::derive_seed(dropout_seed_, dropout_calls_++));
  return encoder->encode(x, lengths, weights);
}

Tensor BertEncoder::pool(const Tensor& h, const std::vector<int32_t>& lengths, Pooling pooling) {
  return pool_hidden(h, lengths, pooling);
}

Tensor BertEncoder::pool(const Tensor& h, const Tensor& ids, const std::vector<int32_t>& lengths, Pooling pooling) const {
  return pool_hidden(h, lengths, pooling, ids, o_.eot_id);
}

Tensor BertEncoder::mlm_logits(const Tensor& h) {
  if (!mlm_bias.defined()) throw Error(ErrorKind::Unsupported, "TransformerEncoder: this model has no masked-language-model head");
  return tokens_->logits(h, mlm_bias);
}

Tensor BertEncoder::classify(const Tensor& ids, const std::vector<int32_t>& lengths) {
  if (!classifier) throw Error(ErrorKind::Unsupported, "TransformerEncoder: this model has no classifier (numClasses is 0)");
  return classifier->forward(pool(hidden(ids, lengths), ids, lengths, o_.class_pooling));
}

Tensor BertEncoder::forward(const Tensor& ids) {
  if (!ids.defined() || ids.dim() != 2) throw_range("TransformerEncoder.forward: expected ids [B, L]");
  return hidden(ids, std::vector<int32_t>(static_cast<size_t>(ids.size(0)), static_cast<int32_t>(ids.size(1))));
}

json::Value BertEncoder::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("TransformerEncoder"));
  c.set("vocabSize", integer(o_.vocab_size));
  c.set("maxLength", integer(o_.max_len));
  c.set("layers", integer(o_.layers));
  write_layer_options(c, o_.layer);
  c.set("positional", str(positional_name(o_.positional)));
  c.set("padId", integer(o_.pad_id));
  c.set("maskId", integer(o_.mask_id));
  c.set("numSpecials", integer(o_.num_specials));
  if (!o_.special_ids.empty()) {
    json::Value ids = json::Value::array();
    for (int32_t id : o_.special_ids) ids.push(integer(id));
    c.set("specialIds", std::move(ids));
  }
  c.set("mlmHead", json::Value::boolean(o_.mlm_head));
  c.set("numClasses", integer(o_.num_classes));
  c.set("classPooling", str(pooling_name(o_.class_pooling)));
  c.set("eotId", integer(o_.eot_id));
  return c;
}

// ---- Seq2Seq --------------------------------------------------------------------------------------

Seq2Seq::Seq2Seq(const Seq2SeqOptions& o) : Module("Seq2Seq"), o_(o) {
  const char* op = "Seq2Seq";
  if (o.src_vocab <= 0 || o.tgt_vocab <= 0 || o.max_len <= 1) throw_range(std::string(op) + ": vocabulary sizes and maxLength must be positive");
  if (o.encoder_layers < 1 || o.decoder_layers < 1) throw_range(std::string(op) + ": encoderLayers and decoderLayers must be positive");
  if (o.share_embeddings && o.src_vocab != o.tgt_vocab) throw_range(std::string(op) + ": shared embeddings need one vocabulary size");
  check_special(o.pad_id, std::min(o.src_vocab, o.tgt_vocab), op, "padId");
  check_special(o.bos_id, o.tgt_vocab, op, "bosId");
  check_special(o.eos_id, o.tgt_vocab, op, "eosId");
  const uint64_t seed = o.layer.seed;
  src_embed = register_module("src_embed", token_table(o.src_vocab, o.layer.dim, o.layer.dtype, nn::derive_seed(seed, 100)));
  if (o.share_embeddings) tgt_embed = src_embed;
  else tgt_embed = register_module("tgt_embed", token_table(o.tgt_vocab, o.layer.dim, o.layer.dtype, nn::derive_seed(seed, 101)));
  pos = register_module("pos", make_positional(o.positional, o.max_len, o.layer.dim, o.layer.dtype, nn::derive_seed(seed, 102)));
  src_tokens_ = std::make_shared<TokenEmbedding>(src_embed, pos, true);
  tgt_tokens_ = o.share_embeddings ? src_tokens_ : std::make_shared<TokenEmbedding>(tgt_embed, pos, true);
  dropout_seed_ = nn::derive_seed(seed, 103);
  LayerOptions eo = o.layer, dopt = o.layer;
  eo.seed = nn::derive_seed(seed, 104);
  dopt.seed = nn::derive_seed(seed, 105);
  encoder = register_module("encoder", std::make_shared<TransformerEncoderStack>(eo, o.encoder_layers));
  decoder = register_module("decoder", std::make_shared<TransformerDecoderStack>(dopt, o.decoder_layers));
  if (o.tie_output) {
    output_bias = register_parameter("output_bias", Tensor::zeros({o.tgt_vocab}, o.layer.dtype));
  } else {
    nn::LinearOptions lo;
    lo.dtype = o.layer.dtype;
    lo.seed = nn::derive_seed(seed, 106);
    generator = register_module("generator", std::make_shared<nn::Linear>(o.layer.dim, o.tgt_vocab, lo));
  }
}

Tensor Seq2Seq::embed_tokens(TokenEmbedding& side, const Tensor& ids, int64_t offset) {
  Tensor x = side.embed_ids(ids, offset);
  if (is_training() && o_.layer.dropout > 0) x = ag::dropout(x, o_.layer.dropout, nn::derive_seed(dropout_seed_, dropout_calls_++));
  return x;
}

Tensor Seq2Seq::logits(const Tensor& h) { return generator ? generator->forward(h) : tgt_tokens_->logits(h, output_bias); }

Tensor Seq2Seq::encode(const Tensor& src, const std::vector<int32_t>& src_lengths, std::vector<Tensor>* weights) {
  check_ids(src, src_lengths, o_.src_vocab, "Seq2Seq", "source ids");
  if (src.size(1) > o_.max_len)
    throw_range("Seq2Seq: source sequences of " + std::to_string(src.size(1)) + " tokens exceed maxLength " + std::to_string(o_.max_len));
  return encoder->encode(embed_tokens(*src_tokens_, src, 0), src_lengths, weights);
}

Tensor Seq2Seq::decode(const Tensor& tgt_in, const Tensor& memory, const std::vector<int32_t>& src_lengths,
                       std::vector<Tensor>* cross_weights) {
  if (!tgt_in.defined() || tgt_in.dtype() != DType::I32 || tgt_in.dim() != 2)
    throw_type("Seq2Seq: target ids must be int32 [batch, length]");
  if (tgt_in.size(0) != memory.size(0)) throw_range("Seq2Seq: source and target batches differ");
  if (tgt_in.size(1) > o_.max_len)
    throw_range("Seq2Seq: target sequences of " + std::to_string(tgt_in.size(1)) + " tokens exceed maxLength " + std::to_string(o_.max_len));
  Tensor h = decoder->decode(embed_tokens(*tgt_tokens_, tgt_in, 0), memory, src_lengths, nullptr, cross_weights);
  return logits(h);
}

Tensor Seq2Seq::step_logits(const Tensor& ids, int64_t position, const Tensor& memory, const std::vector<int32_t>& src_lengths,
                            std::vector<DecoderLayerCache>& caches) {
  Tensor h = decoder->decode(embed_tokens(*tgt_tokens_, ids, position), memory, src_lengths, &caches, nullptr);
  const int64_t R = h.size(0), T = h.size(1);
  Tensor last = T == 1 ? ag::reshape(h, {R, o_.layer.dim}) : ag::reshape(ag::slice(h, 1, T - 1, T, 1), {R, o_.layer.dim});
  return logits(last);
}

Tensor Seq2Seq::step(const Tensor& ids, int64_t position, const Tensor& memory, const std::vector<int32_t>& src_lengths,
                     std::vector<DecoderLayerCache>& caches) {
  return ag::softmax(step_logits(ids, position, memory, src_lengths, caches), true);
}

Tensor Seq2Seq::loss(const Tensor& src, const std::vector<int32_t>& src_lengths, const Tensor& tgt_in, const Tensor& tgt_out,
                     double label_smoothing) {
  if (!tgt_out.defined() || tgt_out.dtype() != DType::I32 || tgt_out.shape() != tgt_in.shape())
    throw_range("Seq2Seq.loss: target outputs must be int32 of the target inputs' shape");
  Tensor lg = decode(tgt_in, encode(src, src_lengths), src_lengths);
  const int64_t M = tgt_out.numel();
  return ag::cross_entropy(ag::reshape(lg, {M, o_.tgt_vocab}), tgt_out.reshape({M}), o_.pad_id, label_smoothing);
}

json::Value Seq2Seq::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("Seq2Seq"));
  c.set("srcVocab", integer(o_.src_vocab));
  c.set("tgtVocab", integer(o_.tgt_vocab));
  c.set("maxLength", integer(o_.max_len));
  c.set("encoderLayers", integer(o_.encoder_layers));
  c.set("decoderLayers", integer(o_.decoder_layers));
  write_layer_options(c, o_.layer);
  c.set("positional", str(positional_name(o_.positional)));
  c.set("shareEmbeddings", json::Value::boolean(o_.share_embeddings));
  c.set("tieOutput", json::Value::boolean(o_.tie_output));
  c.set("padId", integer(o_.pad_id));
  c.set("bosId", integer(o_.bos_id));
  c.set("eosId", integer(o_.eos_id));
  return c;
}

// ---- builders -------------------------------------------------------------------------------------

namespace {

nn::ConfigReader reader(const json::Value& c, const char* type) { return nn::ConfigReader{c, std::string("load: ") + type}; }

int32_t int32_field(const nn::ConfigReader& r, const char* key, int64_t fallback) {
  const int64_t v = r.integer_or(key, fallback);
  if (v < INT32_MIN || v > INT32_MAX) throw Error(ErrorKind::Format, r.where + "." + key + " is out of range");
  return static_cast<int32_t>(v);
}

nn::ModulePtr build_mha(const json::Value& c) {
  auto r = reader(c, "MultiHeadAttention");
  MultiHeadAttentionOptions o;
  o.dim = r.integer("dim");
  o.heads = r.integer_or("heads", 1);
  o.kv_dim = r.integer_or("kvDim", 0);
  o.self_attention = r.boolean_or("selfAttention", true);
  o.fused = r.boolean_or("fused", true);
  o.bias = r.boolean_or("bias", true);
  o.dropout = r.number_or("dropout", 0);
  o.dtype = r.dtype_or("dtype", DType::F32);
  o.seed = r.seed_or("seed", 0);
  return std::make_shared<MultiHeadAttention>(o);
}

nn::ModulePtr build_encoder(const json::Value& c) {
  auto r = reader(c, "TransformerEncoder");
  EncoderOptions o;
  o.vocab_size = r.integer("vocabSize");
  o.max_len = r.integer_or("maxLength", 512);
  o.layers = r.integer_or("layers", 2);
  o.layer = read_layer_options(r);
  o.positional = positional_from_name(r.string_or("positional", "sinusoidal"), r.where.c_str());
  o.pad_id = int32_field(r, "padId", 0);
  o.mask_id = int32_field(r, "maskId", 4);
  o.num_specials = int32_field(r, "numSpecials", 5);
  if (const json::Value* ids = r.find("specialIds")) {
    if (!ids->is_array()) throw Error(ErrorKind::Format, r.where + ".specialIds must be an array of ids");
    for (const json::Value& id : ids->items()) {
      if (!id.is_int()) throw Error(ErrorKind::Format, r.where + ".specialIds must hold integers");
      o.special_ids.push_back(static_cast<int32_t>(id.as_int()));
    }
  }
  o.mlm_head = r.boolean_or("mlmHead", true);
  o.num_classes = r.integer_or("numClasses", 0);
  o.class_pooling = pooling_from_name(r.string_or("classPooling", "cls"), r.where.c_str());
  o.eot_id = int32_field(r, "eotId", 2);
  return std::make_shared<BertEncoder>(o);
}

nn::ModulePtr build_seq2seq(const json::Value& c) {
  auto r = reader(c, "Seq2Seq");
  Seq2SeqOptions o;
  o.src_vocab = r.integer("srcVocab");
  o.tgt_vocab = r.integer("tgtVocab");
  o.max_len = r.integer_or("maxLength", 256);
  o.encoder_layers = r.integer_or("encoderLayers", 2);
  o.decoder_layers = r.integer_or("decoderLayers", 2);
  o.layer = read_layer_options(r);
  o.positional = positional_from_name(r.string_or("positional", "sinusoidal"), r.where.c_str());
  o.share_embeddings = r.boolean_or("shareEmbeddings", false);
  o.tie_output = r.boolean_or("tieOutput", true);
  o.pad_id = int32_field(r, "padId", 0);
  o.bos_id = int32_field(r, "bosId", 1);
  o.eos_id = int32_field(r, "eosId", 2);
  return std::make_shared<Seq2Seq>(o);
}

}  // namespace

namespace {

nn::ModulePtr build_positional(const json::Value& c, bool learned) {
  auto r = reader(c, learned ? "LearnedPositionalEmbedding" : "SinusoidalPositionalEncoding");
  if (learned)
    return std::make_shared<LearnedPositionalEmbedding>(r.integer("maxLength"), r.integer("dim"), r.dtype_or("dtype", DType::F32),
                                                        r.seed_or("seed", 0));
  return std::make_shared<SinusoidalPositionalEncoding>(r.integer("maxLength"), r.integer("dim"), r.dtype_or("dtype", DType::F32));
}

const std::vector<std::pair<std::string, nn::ModuleBuilder>>& builders() {
  static const std::vector<std::pair<std::string, nn::ModuleBuilder>> list = {
      {"MultiHeadAttention", build_mha},
      {"TransformerEncoderLayer",
       [](const json::Value& c) -> nn::ModulePtr {
         return std::make_shared<TransformerEncoderLayer>(read_layer_options(reader(c, "TransformerEncoderLayer")));
       }},
      {"TransformerDecoderLayer",
       [](const json::Value& c) -> nn::ModulePtr {
         return std::make_shared<TransformerDecoderLayer>(read_layer_options(reader(c, "TransformerDecoderLayer")));
       }},
      {"TransformerBlock",
       [](const json::Value& c) -> nn::ModulePtr {
         auto r = reader(c, "TransformerBlock");
         BlockOptions b;
         b.layer = read_layer_options(r);
         b.cross_attention = r.boolean_or("crossAttention", false);
         b.causal = r.boolean_or("causal", false);
         return std::make_shared<TransformerBlock>(b);
       }},
      {"TokenEmbedding",
       [](const json::Value& c) -> nn::ModulePtr {
         auto r = reader(c, "TokenEmbedding");
         TokenEmbeddingOptions o;
         o.vocab_size = r.integer("vocabSize");
         o.dim = r.integer("dim");
         o.max_len = r.integer_or("maxLength", 512);
         o.positional = positional_from_name(r.string_or("positional", "sinusoidal"), r.where.c_str());
         o.scale = r.boolean_or("scale", true);
         o.dtype = r.dtype_or("dtype", DType::F32);
         o.seed = r.seed_or("seed", 0);
         return std::make_shared<TokenEmbedding>(o);
       }},
      {"TransformerEncoderStack",
       [](const json::Value& c) -> nn::ModulePtr {
         auto r = reader(c, "TransformerEncoderStack");
         return std::make_shared<TransformerEncoderStack>(read_layer_options(r), r.integer("layers"));
       }},
      {"TransformerDecoderStack",
       [](const json::Value& c) -> nn::ModulePtr {
         auto r = reader(c, "TransformerDecoderStack");
         return std::make_shared<TransformerDecoderStack>(read_layer_options(r), r.integer("layers"));
       }},
      {"SinusoidalPositionalEncoding", [](const json::Value& c) { return build_positional(c, false); }},
      {"LearnedPositionalEmbedding", [](const json::Value& c) { return build_positional(c, true); }},
      {"TransformerEncoder", build_encoder},
      {"Seq2Seq", build_seq2seq},
      {"GPT", build_gpt},
      {"DualEncoder", clip::build_dual_encoder},
  };
  return list;
}

}  // namespace

void register_transformer_modules() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const auto& [type, build] : builders()) nn::register_module_builder(type, build);
  });
}

nn::ModulePtr build_transformer_module(const json::Value& config, const char* op) {
  const json::Value* type = config.is_object() ? config.find("type") : nullptr;
  if (!type || !type->is_string()) throw_type(std::string(op) + ": the config needs a string 'type'");
  for (const auto& [name, build] : builders())
    if (name == type->as_string()) return build(config);
  throw_type(std::string(op) + ": unknown transformer module type '" + type->as_string() + "'");
}

}  // namespace qkv::transformer

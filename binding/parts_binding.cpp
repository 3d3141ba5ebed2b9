// The composable transformer parts (cpp/transformer: blocks with key/value caches, positions with
// per-row offsets, pooling, logits processing, the generation loop over a step model), each as a
// small synchronous call: for tests and experiments on modules built with tfCreate.
#include <cstring>

#include "autograd/functions.h"
#include "binding.h"
#include "modules.h"
#include "transformer/generate.h"
#include "transformer/models.h"

namespace qkv::binding {

namespace {

Napi::Value arg(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() ? info[i] : info.Env().Undefined(); }
bool absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

template <class M>
std::shared_ptr<M> module_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* type) {
  auto p = std::dynamic_pointer_cast<M>(unwrap_module(info.Env(), arg(info, i), op, "module"));
  if (!p) throw_type(std::string(op) + ": the module is not a " + type);
  return p;
}

std::vector<int32_t> ints(const Napi::Value& v, const char* op, const char* name) {
  std::vector<int32_t> out;
  if (absent(v)) return out;
  if (!v.IsArray() && !v.IsTypedArray()) throw_type(std::string(op) + ": " + name + " must be an array of integers");
  Napi::Object a = v.As<Napi::Object>();
  const uint32_t n = v.IsArray() ? v.As<Napi::Array>().Length() : static_cast<uint32_t>(v.As<Napi::TypedArray>().ElementLength());
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value x = get(a, i);
    if (!x.IsNumber()) throw_type(std::string(op) + ": " + name + " must hold integers");
    out.push_back(x.As<Napi::Number>().Int32Value());
  }
  return out;
}

std::vector<std::vector<int32_t>> int_lists(const Napi::Value& v, const char* op, const char* name) {
  if (!v.IsArray()) throw_type(std::string(op) + ": " + name + " must be an array of arrays of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::vector<int32_t>> out;
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(ints(get(a, i), op, name));
  return out;
}

// tfBlockRun(block, x [B, T, D], { keyLengths, keyStarts, memory, memoryLengths, stepwise }) -> out [B, T, D].
// stepwise: one position at a time through a preallocated key/value cache (with keyStarts as the
// cache's row starts), without recording; else the whole sequence in one call.
Napi::Value tf_block_run(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "TransformerBlock.forward";
    auto m = module_arg<transformer::TransformerBlock>(info, 0, op, "TransformerBlock");
    check_not_busy(*m, op);
    const Tensor& x = TensorHandle::unwrap(info, 1, op, "input");
    Napi::Object o = options_arg(info, 2, op);
    transformer::BlockInputs in;
    in.key_lengths = ints(get(o, "keyLengths"), op, "keyLengths");
    in.key_starts = ints(get(o, "keyStarts"), op, "keyStarts");
    if (!absent(get(o, "memory"))) in.memory = TensorHandle::unwrap_value(info.Env(), get(o, "memory"), op, "memory");
    in.memory_lengths = ints(get(o, "memoryLengths"), op, "memoryLengths");
    if (!opt_bool(o, "stepwise", false, op)) return TensorHandle::wrap(info.Env(), m->run(x, in));
    if (x.dim() != 3) throw_range(std::string(op) + ": expected an input [B, T, D]");
    NoGradGuard no_grad;
    transformer::BlockCache cache;
    cache.self.capacity = opt_int(o, "capacity", x.size(1), op);
    cache.self.starts = in.key_starts;
    in.key_starts.clear();
    in.key_lengths.clear();  // a cached self-attention sees every written position but the row's start
    in.cache = &cache;
    std::vector<Tensor> outs;
    for (int64_t t = 0; t < x.size(1); ++t) {
      outs.push_back(m->run(x.slice(1, t, t + 1).contiguous(), in));
      in.memory = Tensor();  // projected into the cross-attention cache on the first step
    }
    return TensorHandle::wrap(info.Env(), ops::concat(outs, 1));
  });
}

// tfPositionalRows(pos, x [B, T, D], offsets) -> x + the encodings of positions offsets[b] + t (below 0: 0)
Napi::Value tf_positional_rows(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "PositionalEncoding.forward";
    auto m = module_arg<transformer::PositionalEncoding>(info, 0, op, "positional encoding");
    const std::vector<int32_t> o32 = ints(arg(info, 2), op, "offsets");
    return TensorHandle::wrap(info.Env(), m->add_rows(TensorHandle::unwrap(info, 1, op, "input"), std::vector<int64_t>(o32.begin(), o32.end())));
  });
}

// tfPool(hidden [B, L, D], lengths, pooling, ids | null, eotId) -> [B, D]
Napi::Value tf_pool(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "pool";
    const Tensor& h = TensorHandle::unwrap(info, 0, op, "hidden");
    const transformer::Pooling p = transformer::pooling_from_name(arg_string(info, 2, op, "pooling"), op);
    const Tensor ids = absent(arg(info, 3)) ? Tensor() : TensorHandle::unwrap(info, 3, op, "ids");
    return TensorHandle::wrap(info.Env(), transformer::pool_hidden(h, ints(arg(info, 1), op, "lengths"), p, ids,
                                                                    static_cast<int32_t>(arg_int(info, 4, op, "eotId"))));
  });
}

// tfProcessLogits(logits [R, V], seen: number[][], repetitionPenalty, temperature) -> [R, V]
Napi::Value tf_process_logits(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "processLogits";
    const Tensor& x = TensorHandle::unwrap(info, 0, op, "logits");
    return TensorHandle::wrap(info.Env(), transformer::process_logits(x, int_lists(arg(info, 1), op, "seen"), arg_number(info, 2, op, "penalty"),
                                                                       arg_number(info, 3, op, "temperature")));
  });
}

// A bigram model: the logits after token t are row t of a table [V, V]. Stateless, so reorder is a no-op.
class BigramStepModel : public transformer::StepModel {
 public:
  explicit BigramStepModel(Tensor table) : table_(std::move(table)) {}
  Tensor step(const std::vector<int32_t>& tokens) override {
    return ops::index_select(table_, std::vector<int64_t>(tokens.begin(), tokens.end()));
  }
  void reorder(const std::vector<int64_t>&) override {}

 private:
  Tensor table_;
};

// tfGenerateBigram(table [V, V], contexts: number[][], options) -> [[{ ids, finished, stopToken, score, logProb }]] and
// the streamed tokens as `streamed`: [input, sample, token] triples in call order.
Napi::Value tf_generate_bigram(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "generate";
    Napi::Env env = info.Env();
    const Tensor& table = TensorHandle::unwrap(info, 0, op, "table");
    if (table.dim() != 2 || table.size(0) != table.size(1)) throw_range(std::string(op) + ": the table must be [V, V]");
    const auto contexts = int_lists(arg(info, 1), op, "contexts");
    Napi::Object o = options_arg(info, 2, op);
    transformer::GenerateOptions g;
    g.beam_size = opt_int(o, "beamSize", 1, op);
    g.num_return = opt_int(o, "numReturn", 1, op);
    g.length_penalty = opt_number(o, "lengthPenalty", 1, op);
    g.max_new_tokens = opt_int(o, "maxNewTokens", 16, op);
    g.sample = opt_bool(o, "sample", false, op);
    g.temperature = opt_number(o, "temperature", 1, op);
    g.top_k = opt_int(o, "topK", 0, op);
    g.top_p = opt_number(o, "topP", 1, op);
    g.repetition_penalty = opt_number(o, "repetitionPenalty", 1, op);
    g.stop_tokens = ints(get(o, "stopTokens"), op, "stopTokens");
    g.seed = static_cast<uint64_t>(opt_int(o, "seed", 0, op));
    g.first_input = opt_int(o, "firstInput", 0, op);
    std::vector<int32_t> streamed;
    g.on_token = [&](int64_t input, int64_t sample, int32_t token) {
      streamed.insert(streamed.end(), {static_cast<int32_t>(input), static_cast<int32_t>(sample), token});
    };
    transformer::check_generate_options(g, 1 << 20);
    BigramStepModel model(table);
    const auto results = transformer::generate(model, contexts, g);
    Napi::Array out = Napi::Array::New(env, results.size());
    for (uint32_t i = 0; i < results.size(); ++i) {
      Napi::Array hyps = Napi::Array::New(env, results[i].size());
      for (uint32_t k = 0; k < results[i].size(); ++k) {
        const auto& h = results[i][k];
        Napi::Object r = Napi::Object::New(env);
        Napi::Array ids = Napi::Array::New(env, h.ids.size());
        for (uint32_t j = 0; j < h.ids.size(); ++j) ids.Set(j, Napi::Number::New(env, h.ids[j]));
        r.Set("ids", ids);
        r.Set("finished", Napi::Boolean::New(env, h.finished));
        r.Set("stopToken", Napi::Number::New(env, h.stop_token));
        r.Set("score", Napi::Number::New(env, h.score));
        r.Set("logProb", Napi::Number::New(env, h.log_prob));
        hyps.Set(k, r);
      }
      out.Set(i, hyps);
    }
    Napi::Int32Array s = created(Napi::Int32Array::New(env, streamed.size()));
    if (!streamed.empty()) std::memcpy(s.Data(), streamed.data(), streamed.size() * sizeof(int32_t));
    Napi::Object r = Napi::Object::New(env);
    r.Set("results", out);
    r.Set("streamed", s);
    return r;
  });
}

}  // namespace

void init_transformer_parts(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
      {"tfBlockRun", tf_block_run},
      {"tfPositionalRows", tf_positional_rows},
      {"tfPool", tf_pool},
      {"tfProcessLogits", tf_process_logits},
      {"tfGenerateBigram", tf_generate_bigram},
  };
  for (auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace qkv::binding

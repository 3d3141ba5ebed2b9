// Byte-level BPE: N-API glue over cpp/text. Single short encodes and decodes, token lookups and
// adding tokens are synchronous; loading, saving, batches and training run off the event loop
// (queue_job; training as a progress job with abort). The TypeScript side (src/text/bpe.ts) checks
// every argument first; the checks here keep a wrong call from crashing.
//
// A tokenizer is a type-tagged External holding the current immutable model: adding tokens swaps
// in a new one, and a running job keeps the one it started with.
#include <cstring>

#include "binding.h"
#include "progress_job.h"
#include "text/bpe.h"
#include "text/bpe_files.h"
#include "text/bpe_train.h"
#include "text/byte_level.h"

namespace qkv::binding {

namespace {

using text::ModelPtr;

constexpr napi_type_tag kBpeTag = {0x3c0f6a9d42b1e857ULL, 0xa4d2e61f08c97b35ULL};

struct BpeBox {
  ModelPtr model;
};

Napi::Value wrap(Napi::Env env, ModelPtr m) {
  return tagged_external(env, new BpeBox{std::move(m)}, [](Napi::Env, BpeBox* b) { delete b; }, &kBpeTag);
}

BpeBox& unwrap_box(const Napi::CallbackInfo& info, const char* op) {
  if (info.Length() < 1 || !info[0].IsExternal()) throw_type(std::string(op) + ": not a BPE tokenizer handle");
  auto ext = info[0].As<Napi::External<BpeBox>>();
  if (!ext.CheckTypeTag(&kBpeTag)) throw_type(std::string(op) + ": not a BPE tokenizer handle");
  return *ext.Data();
}

ModelPtr unwrap(const Napi::CallbackInfo& info, const char* op) { return unwrap_box(info, op).model; }

Napi::Int32Array int32_array(Napi::Env env, const std::vector<int32_t>& v) {
  auto a = created(Napi::Int32Array::New(env, v.size()));
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(int32_t));
  return a;
}

Napi::Uint8Array uint8_array(Napi::Env env, const std::string& s) {
  auto a = created(Napi::Uint8Array::New(env, s.size()));
  if (!s.empty()) std::memcpy(a.Data(), s.data(), s.size());
  return a;
}

// The Int32Array at argument i, copied (the caller may change it while a job runs).
std::vector<int32_t> int32_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_type(std::string(op) + ": " + name + " must be an Int32Array");
  auto a = info[i].As<Napi::Int32Array>();
  const auto* p = static_cast<const int32_t*>(typed_array_data(info.Env(), a));
  return std::vector<int32_t>(p, p + a.ElementLength());
}

// The text at argument i as bytes: a string (as UTF-8; a lone surrogate becomes U+FFFD) or a
// Uint8Array (its exact bytes).
std::string text_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i < info.Length() && info[i].IsString()) return info[i].As<Napi::String>().Utf8Value();
  if (i < info.Length() && info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto a = info[i].As<Napi::Uint8Array>();
    return std::string(static_cast<const char*>(typed_array_data(info.Env(), a)), a.ByteLength());
  }
  throw_type(std::string(op) + ": text must be a string or a Uint8Array");
}

std::vector<std::string> strings_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || !info[i].IsArray()) throw_type(std::string(op) + ": " + name + " must be an array of strings");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(a.Length());
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value v = get(a, k);
    if (!v.IsString()) throw_type(std::string(op) + ": " + name + "[" + std::to_string(k) + "] must be a string");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

Napi::Value load_job(Napi::Env env, std::function<ModelPtr()> load) {
  auto result = std::make_shared<ModelPtr>();
  return queue_job(env, {[load = std::move(load), result] { *result = load(); },
                         [result](Napi::Env e) -> Napi::Value { return wrap(e, *result); }});
}

// bpeLoadFile(path) → Promise<handle>: a tokenizer.json.
Napi::Value load_file(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.fromFile";
    const std::string path = arg_string(info, 0, op, "path");
    return load_job(info.Env(), [path] { return text::load_tokenizer_json(path, op); });
  });
}

// bpeLoadGPT2(encoderJsonPath, vocabBpePath, clip?) → Promise<handle>; clip: CLIP's vocab.json + merges.txt
Napi::Value load_gpt2(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const bool clip = info.Length() > 2 && arg_bool(info, 2, "BPETokenizer.fromGPT2", "clip");
    const char* op = clip ? "BPETokenizer.loadCLIP" : "BPETokenizer.fromGPT2";
    const std::string enc = arg_string(info, 0, op, "encoderJsonPath"), bpe = arg_string(info, 1, op, "vocabBpePath");
    return load_job(info.Env(), [enc, bpe, op, clip] { return text::load_gpt2(enc, bpe, op, clip); });
  });
}

// bpeLoadTiktoken(path, specialTokens: string[], specialIds: Int32Array) → Promise<handle>
Napi::Value load_tiktoken(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.fromTiktoken";
    const std::string path = arg_string(info, 0, op, "path");
    const std::vector<std::string> names = strings_arg(info, 1, op, "specialTokens");
    const std::vector<int32_t> ids = int32_arg(info, 2, op, "specialIds");
    if (names.size() != ids.size()) throw_range(std::string(op) + ": one id per special token");
    std::vector<std::pair<std::string, int32_t>> specials;
    for (size_t k = 0; k < names.size(); ++k) specials.emplace_back(names[k], ids[k]);
    return load_job(info.Env(), [path, specials] { return text::load_tiktoken(path, specials, op); });
  });
}

// bpeLoadCLIP(mergesText, where) → Promise<handle>: bpe_simple_vocab_16e6.txt's text (gunzipped by the caller)
Napi::Value load_clip(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.loadCLIP";
    const std::string text = arg_string(info, 0, op, "text"), where = std::string(op) + ": " + arg_string(info, 1, op, "where");
    return load_job(info.Env(), [text, where] { return text::parse_clip_merges(text, where); });
  });
}

// bpeFromJSON(tokenizerJsonText) → handle (synchronous: the registry's fromJSON is)
Napi::Value from_json(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.fromJSON";
    return wrap(info.Env(), text::parse_tokenizer_json(arg_string(info, 0, op, "json"), op));
  });
}

// bpeToJSON(handle) → the tokenizer.json text
Napi::Value to_json(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return Napi::String::New(info.Env(), text::tokenizer_json(*unwrap(info, "BPETokenizer.toJSON"))); });
}

// bpeSave(handle, path) → Promise<void>
Napi::Value save(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.save";
    ModelPtr m = unwrap(info, op);
    const std::string path = arg_string(info, 1, op, "path");
    return queue_job(info.Env(), {[m, path] { text::save_tokenizer_json(*m, path, op); }, nullptr});
  });
}

// bpeInfo(handle) → { size, added: [content, id, special][], merges, clip }
Napi::Value model_info(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    ModelPtr m = unwrap(info, "BPETokenizer.info");
    Napi::Env env = info.Env();
    Napi::Object r = Napi::Object::New(env);
    r.Set("size", Napi::Number::New(env, m->size()));
    const auto& added = m->spec().added;
    Napi::Array list = Napi::Array::New(env, added.size());
    for (uint32_t k = 0; k < added.size(); ++k) {
      Napi::Array a = Napi::Array::New(env, 3);
      a.Set(0u, Napi::String::New(env, added[k].content));
      a.Set(1u, Napi::Number::New(env, added[k].id));
      a.Set(2u, Napi::Boolean::New(env, added[k].special));
      list.Set(k, a);
    }
    r.Set("added", list);
    r.Set("merges", Napi::Number::New(env, static_cast<double>(m->spec().merges.size())));
    r.Set("clip", Napi::Boolean::New(env, m->spec().clip));
    return r;
  });
}

// bpeEncode(handle, text: string | Uint8Array, splitSpecial) → Int32Array
// bpeEncodeReference(handle, text) → Int32Array: pre-tokenized words through the textbook merge,
// added tokens not split out (for tests of the fast merge).
Napi::Value encode_with(const Napi::CallbackInfo& info, bool reference) {
  QKV_GUARD(info, {
    const char* op = reference ? "bpeEncodeReference" : "BPETokenizer.encode";
    ModelPtr m = unwrap(info, op);
    const std::string t = text_arg(info, 1, op);
    std::vector<int32_t> ids;
    ids.reserve(t.size() / 3 + 4);
    if (reference) m->for_each_word(t, [&](std::string_view w) { m->encode_word_reference(w, ids); });
    else m->encode(t, arg_bool(info, 2, op, "splitSpecial"), ids);
    return int32_array(info.Env(), ids);
  });
}

Napi::Value encode(const Napi::CallbackInfo& info) { return encode_with(info, false); }
Napi::Value encode_reference(const Napi::CallbackInfo& info) { return encode_with(info, true); }

// bpeDecode(handle, ids: Int32Array, skipSpecial) → Uint8Array
Napi::Value decode(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.decode";
    ModelPtr m = unwrap(info, op);
    const std::vector<int32_t> ids = int32_arg(info, 1, op, "ids");
    std::string out;
    m->decode(ids.data(), ids.size(), arg_bool(info, 2, op, "skipSpecial"), out, op);
    return uint8_array(info.Env(), out);
  });
}

// bpeEncodeBatch(handle, texts: string[], splitSpecial) → Promise<{ ids: Int32Array, offsets: Int32Array }>
Napi::Value encode_batch(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.encodeBatch";
    ModelPtr m = unwrap(info, op);
    auto texts = std::make_shared<std::vector<std::string>>(strings_arg(info, 1, op, "texts"));
    const bool split = arg_bool(info, 2, op, "splitSpecial");
    auto rows = std::make_shared<std::vector<std::vector<int32_t>>>();
    return queue_job(info.Env(), {[m, texts, split, rows] { *rows = text::encode_batch(*m, *texts, split); },
                                  [rows](Napi::Env env) -> Napi::Value {
                                    size_t total = 0;
                                    for (const auto& r : *rows) total += r.size();
                                    auto ids = created(Napi::Int32Array::New(env, total));
                                    auto offsets = created(Napi::Int32Array::New(env, rows->size() + 1));
                                    size_t at = 0;
                                    for (size_t k = 0; k < rows->size(); ++k) {
                                      offsets[k] = static_cast<int32_t>(at);
                                      const auto& r = (*rows)[k];
                                      if (!r.empty()) std::memcpy(ids.Data() + at, r.data(), r.size() * sizeof(int32_t));
                                      at += r.size();
                                    }
                                    offsets[rows->size()] = static_cast<int32_t>(at);
                                    Napi::Object out = Napi::Object::New(env);
                                    out.Set("ids", ids);
                                    out.Set("offsets", offsets);
                                    return out;
                                  }});
  });
}

// bpeDecodeBatch(handle, ids: Int32Array, offsets: Int32Array, skipSpecial) → Promise<Uint8Array[]>
Napi::Value decode_batch(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.decodeBatch";
    ModelPtr m = unwrap(info, op);
    auto ids = std::make_shared<std::vector<int32_t>>(int32_arg(info, 1, op, "ids"));
    auto offsets = std::make_shared<std::vector<int32_t>>(int32_arg(info, 2, op, "offsets"));
    const bool skip = arg_bool(info, 3, op, "skipSpecial");
    if (offsets->empty() || offsets->front() != 0 || static_cast<size_t>(offsets->back()) != ids->size())
      throw_range(std::string(op) + ": offsets do not cover the ids");
    for (size_t k = 1; k < offsets->size(); ++k)
      if ((*offsets)[k] < (*offsets)[k - 1]) throw_range(std::string(op) + ": offsets must not decrease");
    auto out = std::make_shared<std::vector<std::string>>(offsets->size() - 1);
    return queue_job(info.Env(), {[m, ids, offsets, skip, out] {
                                    for (size_t k = 0; k < out->size(); ++k)
                                      m->decode(ids->data() + (*offsets)[k], static_cast<size_t>((*offsets)[k + 1] - (*offsets)[k]), skip, (*out)[k], op);
                                  },
                                  [out](Napi::Env env) -> Napi::Value {
                                    Napi::Array rows = Napi::Array::New(env, out->size());
                                    for (uint32_t k = 0; k < out->size(); ++k) rows.Set(k, uint8_array(env, (*out)[k]));
                                    return rows;
                                  }});
  });
}

// bpeAddTokens(handle, tokens: string[], special) → Int32Array of their ids
Napi::Value add_tokens(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.addSpecialTokens";
    BpeBox& box = unwrap_box(info, op);
    const std::vector<std::string> tokens = strings_arg(info, 1, op, "tokens");
    std::vector<int32_t> ids;
    box.model = box.model->with_added(tokens, arg_bool(info, 2, op, "special"), &ids);
    return int32_array(info.Env(), ids);
  });
}

// bpeTokenToId(handle, token) → id or -1. A token is its byte-level text ("Ġthe"), an added token its content.
Napi::Value token_to_id(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.tokenToId";
    ModelPtr m = unwrap(info, op);
    const std::string token = arg_string(info, 1, op, "token");
    int32_t id = m->find(token);
    if (id < 0 || !m->is_added(id)) {
      std::string bytes;
      id = text::from_byte_level(token, &bytes) ? m->find(bytes) : -1;
      if (id >= 0 && m->is_added(id)) id = -1;  // an added token is found by its content only
    }
    return Napi::Number::New(info.Env(), id);
  });
}

// bpeIdToToken(handle, id) → the token's text, or undefined for a hole
Napi::Value id_to_token(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.idToToken";
    ModelPtr m = unwrap(info, op);
    const int64_t id = arg_int(info, 1, op, "id");
    if (id < 0 || id >= m->size()) throw_range(std::string(op) + ": id " + std::to_string(id) + " is outside [0, " + std::to_string(m->size()) + ")");
    const auto i = static_cast<int32_t>(id);
    if (m->is_hole(i)) return info.Env().Undefined();
    const std::string& bytes = m->spec().tokens[i];
    return Napi::String::New(info.Env(), m->is_added(i) ? bytes : text::to_byte_level(bytes));
  });
}

// bpeIsSpecial(handle, id) → boolean
Napi::Value is_special(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    ModelPtr m = unwrap(info, "BPETokenizer.isSpecial");
    const int64_t id = arg_int(info, 1, "BPETokenizer.isSpecial", "id");
    return Napi::Boolean::New(info.Env(), id >= 0 && id < m->size() && m->is_special(static_cast<int32_t>(id)));
  });
}

// bpeTrain(source: { path } | { texts: string[] }, vocabSize, minFrequency, specialTokens: string[], onProgress?, clip?)
//   → { promise: Promise<handle>, abort }
Napi::Value train(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "BPETokenizer.train";
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw_type(std::string(op) + ": corpus must be an object");
    Napi::Object src = info[0].As<Napi::Object>();
    const Napi::Value path_v = get(src, "path");
    auto texts = std::make_shared<std::vector<std::string>>();
    std::string path;
    if (path_v.IsString()) {
      path = path_v.As<Napi::String>().Utf8Value();
    } else {
      const Napi::Value t = get(src, "texts");
      if (!t.IsArray()) throw_type(std::string(op) + ": corpus must be { path } or { texts }");
      Napi::Array a = t.As<Napi::Array>();
      for (uint32_t k = 0; k < a.Length(); ++k) {
        Napi::Value v = get(a, k);
        if (!v.IsString()) throw_type(std::string(op) + ": corpus texts must be strings");
        texts->push_back(v.As<Napi::String>().Utf8Value());
      }
    }
    text::TrainConfig cfg;
    const int64_t vocab = arg_int(info, 1, op, "vocabSize"), min_freq = arg_int(info, 2, op, "minFrequency");
    if (vocab < 0 || vocab > (INT64_C(1) << 24)) throw_range(std::string(op) + ": vocabSize must be in [0, 2^24]");
    cfg.vocab_size = static_cast<int32_t>(vocab);
    cfg.min_frequency = min_freq;
    cfg.special_tokens = strings_arg(info, 3, op, "specialTokens");
    cfg.clip = info.Length() > 5 && arg_bool(info, 5, op, "clip");
    auto result = std::make_shared<ModelPtr>();
    ProgressJobSpec spec;
    spec.name = op;
    spec.on_progress = info.Length() > 4 ? info[4] : env.Undefined();
    spec.on_item = env.Undefined();
    spec.work = [path, texts, cfg, result](JobControl& ctl) mutable {
      text::WordCounter counter(cfg.special_tokens, cfg.clip);
      auto aborted = [&ctl] { return ctl.aborted(); };
      if (!path.empty()) {
        counter.add_file(path, aborted, op);
      } else {
        std::vector<std::string_view> views(texts->begin(), texts->end());
        counter.add(views);
      }
      ctl.throw_if_aborted();
      cfg.aborted = aborted;
      cfg.progress = [&ctl](int64_t done, int64_t target) {
        ctl.report({{"merges", static_cast<double>(done)}, {"target", static_cast<double>(target)}});
      };
      *result = text::train_bpe(counter, cfg, op);
    };
    spec.done = [result](Napi::Env e) -> Napi::Value { return wrap(e, *result); };
    return start_progress_job(env, std::move(spec));
  });
}

}  // namespace

void init_bpe(Napi::Env env, Napi::Object exports) {
  exports.Set("bpeLoadFile", Napi::Function::New(env, load_file, "bpeLoadFile"));
  exports.Set("bpeLoadGPT2", Napi::Function::New(env, load_gpt2, "bpeLoadGPT2"));
  exports.Set("bpeLoadTiktoken", Napi::Function::New(env, load_tiktoken, "bpeLoadTiktoken"));
  exports.Set("bpeLoadCLIP", Napi::Function::New(env, load_clip, "bpeLoadCLIP"));
  exports.Set("bpeFromJSON", Napi::Function::New(env, from_json, "bpeFromJSON"));
  exports.Set("bpeToJSON", Napi::Function::New(env, to_json, "bpeToJSON"));
  exports.Set("bpeSave", Napi::Function::New(env, save, "bpeSave"));
  exports.Set("bpeInfo", Napi::Function::New(env, model_info, "bpeInfo"));
  exports.Set("bpeEncode", Napi::Function::New(env, encode, "bpeEncode"));
  exports.Set("bpeEncodeReference", Napi::Function::New(env, encode_reference, "bpeEncodeReference"));
  exports.Set("bpeDecode", Napi::Function::New(env, decode, "bpeDecode"));
  exports.Set("bpeEncodeBatch", Napi::Function::New(env, encode_batch, "bpeEncodeBatch"));
  exports.Set("bpeDecodeBatch", Napi::Function::New(env, decode_batch, "bpeDecodeBatch"));
  exports.Set("bpeAddTokens", Napi::Function::New(env, add_tokens, "bpeAddTokens"));
  exports.Set("bpeTokenToId", Napi::Function::New(env, token_to_id, "bpeTokenToId"));
  exports.Set("bpeIdToToken", Napi::Function::New(env, id_to_token, "bpeIdToToken"));
  exports.Set("bpeIsSpecial", Napi::Function::New(env, is_special, "bpeIsSpecial"));
  exports.Set("bpeTrain", Napi::Function::New(env, train, "bpeTrain"));
}

}  // namespace qkv::binding

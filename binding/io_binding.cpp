// File formats: safetensors checkpoints. The file work runs in queue_job's worker (nothing that can
// take more than about a millisecond runs on the event loop); the main thread only checks
// arguments, snapshots tensor handles and builds the result.
#include <cstring>

#include "binding.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"

namespace qkv::binding {

// Defines an own, enumerable data property (never a setter: a key such as "__proto__" stays data).
static void define(Napi::Object o, const std::string& key, Napi::Value v) {
  o.DefineProperty(Napi::PropertyDescriptor::Value(key, v, static_cast<napi_property_attributes>(napi_writable | napi_enumerable | napi_configurable)));
}

// The own enumerable string keys of an object (not its prototype's).
static std::vector<std::string> own_keys(Napi::Env env, Napi::Object o) {
  napi_value names;
  napi_status st = napi_get_all_property_names(env, o, napi_key_own_only,
                                               static_cast<napi_key_filter>(napi_key_enumerable | napi_key_skip_symbols),
                                               napi_key_numbers_to_strings, &names);
  if (st != napi_ok) throw Error(ErrorKind::Internal, "saveSafetensors: cannot list the metadata's keys");
  Napi::Array arr(env, names);
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value k = get(arr, i);
    if (!k.IsString()) throw Error(ErrorKind::Internal, "saveSafetensors: cannot list the metadata's keys");
    keys.push_back(k.As<Napi::String>().Utf8Value());
  }
  return keys;
}

// saveSafetensors(path, names: string[], tensors: NativeTensor[], metadata?: {[k]: string}) → Promise<void>
static Napi::Value save_safetensors(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "saveSafetensors";
    Napi::Env env = info.Env();
    std::string path = arg_string(info, 0, op, "path");
    if (info.Length() < 3 || !info[1].IsArray() || !info[2].IsArray())
      throw_type(std::string(op) + ": names and tensors must be arrays");
    Napi::Array names = info[1].As<Napi::Array>();
    Napi::Array handles = info[2].As<Napi::Array>();
    if (names.Length() != handles.Length())
      throw_type(std::string(op) + ": got " + std::to_string(names.Length()) + " names for " + std::to_string(handles.Length()) + " tensors");
    auto tensors = std::make_shared<io::NamedTensors>();
    tensors->reserve(names.Length());
    for (uint32_t i = 0; i < names.Length(); ++i) {
      Napi::Value n = get(names, i);
      if (!n.IsString()) throw_type(std::string(op) + ": tensor names must be strings");
      std::string name = n.As<Napi::String>().Utf8Value();
      const std::string label = "tensor '" + name + "'";
      // A copy of the tensor shares its storage, which stays alive until the job is done even if
      // the JavaScript handle is disposed meanwhile.
      tensors->emplace_back(std::move(name), TensorHandle::unwrap_value(env, get(handles, i), op, label.c_str()));
    }
    auto metadata = std::make_shared<io::Metadata>();
    if (info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull()) {
      if (!info[3].IsObject() || info[3].IsArray()) throw_type(std::string(op) + ": metadata must be an object of strings");
      Napi::Object m = info[3].As<Napi::Object>();
      for (const std::string& k : own_keys(env, m)) {
        Napi::Value v = get(m, k);
        if (!v.IsString()) throw_type(std::string(op) + ": metadata value of '" + k + "' must be a string");
        (*metadata)[k] = v.As<Napi::String>().Utf8Value();
      }
    }
    return queue_job(env, {[path, tensors, metadata] { io::write_safetensors(path, *tensors, *metadata, op); },
                           [](Napi::Env e) -> Napi::Value { return e.Undefined(); }});
  });
}

// loadSafetensors(path | Uint8Array) → Promise<{ names: string[], tensors: {[name]: NativeTensor}, metadata: {[k]: string} }>
static Napi::Value load_safetensors(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "loadSafetensors";
    Napi::Env env = info.Env();
    auto result = std::make_shared<io::Safetensors>();
    std::function<void()> work;
    if (info.Length() > 0 && info[0].IsString()) {
      std::string path = info[0].As<Napi::String>().Utf8Value();
      work = [path, result] { *result = io::read_safetensors(path, op); };
    } else if (info.Length() > 0 && info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      // Copied now: the caller may change or transfer its buffer while the job runs.
      Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
      auto bytes = std::make_shared<std::string>(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
      work = [bytes, result] { *result = io::parse_safetensors(bytes->data(), bytes->size(), "<buffer>", op); };
    } else {
      throw_type(std::string(op) + ": source must be a path (string) or a Uint8Array");
    }
    return queue_job(env, {std::move(work), [result](Napi::Env e) -> Napi::Value {
                             Napi::Array names = Napi::Array::New(e, result->tensors.size());
                             Napi::Object tensors = Napi::Object::New(e);
                             for (uint32_t i = 0; i < result->tensors.size(); ++i) {
                               auto& [name, t] = result->tensors[i];
                               names.Set(i, Napi::String::New(e, name));
                               define(tensors, name, TensorHandle::wrap(e, std::move(t)));
                             }
                             Napi::Object metadata = Napi::Object::New(e);
                             for (const auto& [k, v] : result->metadata) define(metadata, k, Napi::String::New(e, v));
                             Napi::Object out = Napi::Object::New(e);
                             out.Set("names", names);
                             out.Set("tensors", tensors);
                             out.Set("metadata", metadata);
                             result->tensors.clear();
                             return out;
                           }});
  });
}

// writeTextFile(path, text, op): the atomic writer (io/atomic_file.h) for files that qkv's
// TypeScript side makes (SVG plots): small, so written synchronously.
static Napi::Value write_text_file(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const std::string op = arg_string(info, 2, "writeTextFile", "op");
    const std::string path = arg_string(info, 0, op.c_str(), "path");
    const std::string text = arg_string(info, 1, op.c_str(), "text");
    io::AtomicWriter w(path, op.c_str());
    w.write(text.data(), text.size());
    w.commit();
    return info.Env().Undefined();
  });
}

void init_io(Napi::Env env, Napi::Object exports) {
  exports.Set("writeTextFile", Napi::Function::New(env, write_text_file, "writeTextFile"));
  exports.Set("saveSafetensors", Napi::Function::New(env, save_safetensors, "saveSafetensors"));
  exports.Set("loadSafetensors", Napi::Function::New(env, load_safetensors, "loadSafetensors"));
}

}  // namespace qkv::binding

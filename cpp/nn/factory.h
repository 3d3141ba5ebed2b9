#pragma once
// Builds modules from their configs (Module::config()), for checkpoints that rebuild their model
// and for the binding. Each type has a builder; model code (transformers, dual encoders) adds its
// own with register_module_builder() from an init function it calls before use (a self-registering
// static would be dropped by the linker from the static core library).
#include <functional>
#include <string>

#include "io/json.h"
#include "nn/module.h"

namespace qkv::nn {

using ModuleBuilder = std::function<ModulePtr(const json::Value& config)>;

// Replaces any builder of the same type.
void register_module_builder(const std::string& type, ModuleBuilder builder);
// Error(Format) for an unknown type or a malformed config, naming `op` and the field.
ModulePtr module_from_config(const json::Value& config, const char* op = "module");

// Typed field access for builders: Error(Format) "<op>: <type>.<key> ..." when missing or mistyped.
struct ConfigReader {
  const json::Value& v;
  std::string where;  // "<op>: <type>"
  int64_t integer(const char* key) const;
  int64_t integer_or(const char* key, int64_t fallback) const;
  double number_or(const char* key, double fallback) const;
  bool boolean_or(const char* key, bool fallback) const;
  std::string string_or(const char* key, const std::string& fallback) const;
  uint64_t seed_or(const char* key, uint64_t fallback) const;  // a decimal string or an integer
  DType dtype_or(const char* key, DType fallback) const;
  const json::Value* find(const char* key) const { return v.find(key); }
};

}  // namespace qkv::nn

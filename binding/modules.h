#pragma once
// Module and optimizer handles across the binding (defined in nn_binding.cpp and optim_binding.cpp):
// wrapping, unwrapping, and the busy marking that keeps a synchronous call from racing a job.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace qkv::binding {

nn::ModulePtr unwrap_module(Napi::Env env, const Napi::Value& v, const char* op, const char* name);
Napi::Value wrap_module(Napi::Env env, nn::ModulePtr m, bool owner);
std::shared_ptr<optim::Optimizer> unwrap_optimizer(Napi::Env env, const Napi::Value& v, const char* op, const char* name);
Napi::Value wrap_optimizer(Napi::Env env, std::shared_ptr<optim::Optimizer> opt);

// Throw QkvError ERR_BUSY when a job is using the module, or the optimizer or one of its
// parameters (a second optimizer over a training model's parameters is refused too).
void check_not_busy(const nn::Module& m, const char* op);
void check_optimizer_not_busy(const optim::Optimizer& o, const char* op);
// Marks the module tree (and the optimizer) busy until the returned holder is destroyed: release
// it on the main thread when the job settles.
std::shared_ptr<void> hold_for_job(const nn::ModulePtr& m, const std::shared_ptr<optim::Optimizer>& opt);

std::vector<std::string> object_keys(Napi::Env env, Napi::Object o, const char* op);
void set_data(Napi::Object o, const std::string& key, Napi::Value v);
// Named tensors as [name, tensor] pairs.
Napi::Array named_tensors(Napi::Env env, const nn::NamedTensors& list);
// A checkpoint's metadata as a plain object of strings.
Napi::Object metadata_object(Napi::Env env, const io::Metadata& meta);

}  // namespace qkv::binding

#pragma once
// Module checkpoints in safetensors (io/safetensors.h): one tensor per parameter and persistent
// buffer under its dotted name, the optimizer's state under "optimizer/<parameter>/<state>"
// (a name no module tensor can have: module names hold no '/'), and in `__metadata__`:
//   "qkv.format"     "module/1"
//   "qkv.config"     the module's config JSON (nn/factory.h rebuilds the module from it)
//   "qkv.optimizer"  the optimizer's hyperparameters, step counts and schedule, with
//                    "params": [{"name", "step", "decay"}] in the optimizer's order
//   "qkv.rng"        the positions of random generators (Dropout) by module name, so that a resumed
//                    run draws the same masks as an uninterrupted one
// plus the caller's own string keys (any key not starting with "qkv.").
//
// Loading is strict and all-or-nothing: every module tensor must be present with the same shape
// (float data converts between float32 and float64), no other tensor may be present, and the
// optimizer's state must cover exactly the optimizer's parameters. Everything is checked before
// anything is written into the module or the optimizer; a violation throws Error(Format) naming the
// tensor. The data is copied into the existing tensors, so tensors handed out before stay valid.
#include <functional>
#include <memory>
#include <string>

#include "io/safetensors.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace qkv::nn {

inline constexpr const char* kCheckpointFormat = "module/1";

// Writes atomically. `opt` may be null. TypeError for a user metadata key starting with "qkv.",
// RangeError for an optimizer parameter that is not a parameter of the module.
void save_checkpoint(const std::string& path, const Module& module, const optim::Optimizer* opt,
                     const io::Metadata& user_metadata, const char* op = "save");

// Loads into an existing module (and optimizer, when given: the file must then hold optimizer
// state). Returns the file's metadata (all keys).
io::Metadata load_checkpoint(const std::string& path, Module& module, optim::Optimizer* opt, const char* op = "load");
// The same from a parsed file. Not `strict`: the module's tensors the file lacks keep their values,
// and the file's tensors the module lacks are ignored (shapes must still match).
io::Metadata load_checkpoint(const io::Safetensors& file, const std::string& where, Module& module, optim::Optimizer* opt,
                             const char* op = "load", bool strict = true);

// Rebuilds the module from the file's "qkv.config" and loads its tensors.
ModulePtr load_module(const std::string& path, io::Metadata* metadata, const char* op = "load");
// The same, and when the file holds optimizer state, `make_optimizer(module)` builds an optimizer
// for the new module that receives it (into *optimizer; null when the file holds none).
using OptimizerFactory = std::function<std::shared_ptr<optim::Optimizer>(Module&)>;
ModulePtr load_module(const std::string& path, io::Metadata* metadata, const OptimizerFactory& make_optimizer,
                      std::shared_ptr<optim::Optimizer>* optimizer, const char* op = "load");

}  // namespace qkv::nn

// Module checkpoints: a safetensors file whose metadata names the module (qkv.config) and whose
// tensors must match it; rebuilt through the module factory, also with optimizer state.
#include "fuzz_common.h"
#include "nn/checkpoint.h"
#include "optim/optimizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qkv::fuzz::input_file(data, size, ".safetensors");
  qkv::fuzz::expect_clean([&] {
    qkv::io::Metadata meta;
    std::shared_ptr<qkv::optim::Optimizer> opt;
    (void)qkv::nn::load_module(
        path, &meta, [](qkv::nn::Module& m) { return qkv::optim::make_adamw(m.parameters(), {}, m.parameter_decay()); }, &opt, "fuzz");
  });
  return 0;
}

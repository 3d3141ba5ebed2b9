// Module entry: registers each area's functions. Nothing else lives here.
#include "binding.h"

namespace qkv::binding {

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new InstanceData());
  TensorHandle::init(env, exports);
  init_tensor(env, exports);
  init_ops(env, exports);
  init_runtime(env, exports);
  init_autograd(env, exports);
  init_cuda(env, exports);
  init_nn(env, exports);
  init_optim(env, exports);
  init_tasks(env, exports);
  init_io(env, exports);
  init_word2vec(env, exports);
  init_transformer(env, exports);
  init_transformer_parts(env, exports);
  init_bpe(env, exports);
  init_norm(env, exports);
  init_image(env, exports);
  return exports;
}

}  // namespace qkv::binding

static Napi::Object qkv_init(Napi::Env env, Napi::Object exports) { return qkv::binding::init(env, exports); }

NODE_API_MODULE(qkv, qkv_init)

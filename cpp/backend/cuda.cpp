// The CUDA device's op table. The plugin (cpp/cuda/plugin_api.h) provides memory, streams and,
// entry by entry, the op kernels; an entry whose kernel the plugin lacks stays empty, and
// backend::call then throws Error(Unsupported) naming the op and the device.
#include "backend/backend.h"

namespace qkv::backend {

Backend make_cuda_backend() {
  Backend b;
  b.device = Device::CUDA;
  return b;
}

}  // namespace qkv::backend

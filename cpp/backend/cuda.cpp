// The CUDA device's op table. Host transfers are always there once the plugin is loaded; every
// other entry maps to the plugin's kernel slot of the same name and stays empty while that slot
// is NULL, so backend::call throws Error(Unsupported) naming the op and the device. A kernel the
// plugin gains later needs no change here; a new op needs one line below and its adapter.
#include "backend/cuda_support.h"

namespace qkv::backend {

// The entries backed by a kernel slot of the same name (cpp/cuda/plugin_api.h).
#define QKV_CUDA_KERNEL_ENTRIES(X)                                                                    \
  X(fill) X(copy) X(cast) X(random) X(arange) X(index_select) X(index_add)                            \
  X(matmul) X(linear) X(linear_backward)                                                              \
  X(binary) X(unary) X(unary_backward) X(binary_backward) X(dropout)                                  \
  X(reduce_rows) X(sum_squares)                                                                       \
  X(softmax) X(layer_norm) X(layer_norm_backward) X(embedding) X(embedding_backward)                  \
  X(cross_entropy) X(cross_entropy_backward)                                                          \
  X(attention_forward) X(attention_backward) X(attention_reference) X(attention_bias) X(sequence_mask) \
  X(adam_step) X(sgd_step) X(scale_inplace)

Backend make_cuda_backend() {
  Backend b;
  b.device = Device::CUDA;
  const qkv_cuda_table_v2* p = cuda::plugin_table();
  if (!p) return b;  // no CUDA tensor can exist then
  b.to_host = &cuda_impl::to_host;
  b.from_host = &cuda_impl::from_host;
#define QKV_CUDA_WIRE(name) \
  if (p->name) b.name = &cuda_impl::name;
  QKV_CUDA_KERNEL_ENTRIES(QKV_CUDA_WIRE)
#undef QKV_CUDA_WIRE
  return b;
}

}  // namespace qkv::backend

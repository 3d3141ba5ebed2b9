#pragma once
// The loaded CUDA plugin made ready for tensors: the first use selects device 0 and registers the
// CUDA allocator with core/device.h. Loading and probing are core/cuda_loader.h; the op table over
// the plugin's kernels is backend/cuda.cpp.
#include <cstddef>

#include "core/cuda_loader.h"

namespace qkv::cuda {

// The plugin's table, ready: device 0 selected and the allocator registered (once; a failed
// selection is retried by the next call). Throws Error(Unsupported) naming `op` with the loader's
// reason when CUDA cannot be used here, CudaError when the selection fails.
const qkv_cuda_table_v2& runtime(const char* op);

// Throws for a failed plugin call: RangeError for QKV_CUDA_ERR_RANGE, else CudaError, as
// "<op>: <the plugin's message>".
void check(const qkv_cuda_table_v2& p, qkv_cuda_status status, const char* op);

// The stream the core queues its CUDA work on (the default stream, for now).
inline qkv_cuda_stream stream() { return nullptr; }

// out[i] = a[i] + b[i] on CUDA device `device`, through host memory: a check that the plugin and
// the device work. Throws Unsupported when CUDA is unavailable (message gives the reason), Range
// for a bad device index, CudaError for a CUDA error (message from the runtime). A device other
// than 0 is selected for the call: not for use while other CUDA work is running.
void add_f32(const float* a, const float* b, float* out, size_t n, int device = 0);

}  // namespace qkv::cuda

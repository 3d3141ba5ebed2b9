// Pooling over one [H, W] plane: the max of each (dilated) window with the position it came from,
// and the mean over averaging bins (image_kernels.h), with its backward.
#include <cmath>
#include <limits>

#include "cpu/image_kernels.h"

namespace qkv::cpu {

template <class T>
void max_pool_plane(const T* x, int64_t H, int64_t W, const Window2d& w, int64_t OH, int64_t OW, T* y, int32_t* arg) {
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ++ow) {
      // As PyTorch: the padding is never picked, and a window of -inf reports its first position.
      T best = -std::numeric_limits<T>::infinity();
      int64_t at = -1;  // stays -1 only for a window that misses the input (dilation larger than it)
      for (int64_t ki = 0; ki < w.kernel[0]; ++ki) {
        const int64_t ih = oh * w.stride[0] - w.padding[0] + ki * w.dilation[0];
        if (ih < 0 || ih >= H) continue;
        for (int64_t kj = 0; kj < w.kernel[1]; ++kj) {
          const int64_t iw = ow * w.stride[1] - w.padding[1] + kj * w.dilation[1];
          if (iw < 0 || iw >= W) continue;
          const T v = x[ih * W + iw];
          if (at < 0) at = ih * W + iw;
          if (v > best || std::isnan(v)) {  // strict: the first of ties stays; a NaN wins
            best = v;
            at = ih * W + iw;
          }
        }
      }
      y[oh * OW + ow] = best;
      arg[oh * OW + ow] = static_cast<int32_t>(at);
    }
}

template <class T>
void avg_pool_plane(const T* x, int64_t W, const AvgBins& b, T* y) {
  const int64_t OH = static_cast<int64_t>(b.h0.size()), OW = static_cast<int64_t>(b.w0.size());
  for (int64_t i = 0; i < OH; ++i)
    for (int64_t j = 0; j < OW; ++j) {
      double s = 0;
      for (int64_t h = b.h0[i]; h < b.h1[i]; ++h)
        for (int64_t c = b.w0[j]; c < b.w1[j]; ++c) s += x[h * W + c];
      y[i * OW + j] = static_cast<T>(s / (b.hn[i] * b.wn[j]));
    }
}

template <class T>
void avg_pool_plane_backward(const T* g, int64_t W, const AvgBins& b, T* dx) {
  const int64_t OH = static_cast<int64_t>(b.h0.size()), OW = static_cast<int64_t>(b.w0.size());
  for (int64_t i = 0; i < OH; ++i)
    for (int64_t j = 0; j < OW; ++j) {
      const T share = static_cast<T>(g[i * OW + j] / (b.hn[i] * b.wn[j]));
      for (int64_t h = b.h0[i]; h < b.h1[i]; ++h)
        for (int64_t c = b.w0[j]; c < b.w1[j]; ++c) dx[h * W + c] += share;
    }
}

template void max_pool_plane<float>(const float*, int64_t, int64_t, const Window2d&, int64_t, int64_t, float*, int32_t*);
template void max_pool_plane<double>(const double*, int64_t, int64_t, const Window2d&, int64_t, int64_t, double*, int32_t*);
template void avg_pool_plane<float>(const float*, int64_t, const AvgBins&, float*);
template void avg_pool_plane<double>(const double*, int64_t, const AvgBins&, double*);
template void avg_pool_plane_backward<float>(const float*, int64_t, const AvgBins&, float*);
template void avg_pool_plane_backward<double>(const double*, int64_t, const AvgBins&, double*);

}  // namespace qkv::cpu

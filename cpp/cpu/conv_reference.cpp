// The readable direct convolution (one loop per index, double accumulation): what the im2col +
// GEMM path of backend/cpu_conv.cpp is tested against (test/conv.test.ts).
#include "cpu/image_kernels.h"

namespace qkv::cpu {

template <class T>
void conv2d_reference(const T* x, const T* weight, const T* bias, int64_t O, const Plane& p, const Window2d& w, T* y) {
  const int64_t kh = w.kernel[0], kw = w.kernel[1];
  for (int64_t o = 0; o < O; ++o)
    for (int64_t oh = 0; oh < p.OH; ++oh)
      for (int64_t ow = 0; ow < p.OW; ++ow) {
        double acc = bias ? double(bias[o]) : 0.0;
        for (int64_t c = 0; c < p.C; ++c)
          for (int64_t ki = 0; ki < kh; ++ki)
            for (int64_t kj = 0; kj < kw; ++kj) {
              const int64_t ih = oh * w.stride[0] - w.padding[0] + ki * w.dilation[0];
              const int64_t iw = ow * w.stride[1] - w.padding[1] + kj * w.dilation[1];
              if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) continue;  // zero padding
              acc += double(weight[((o * p.C + c) * kh + ki) * kw + kj]) * double(x[(c * p.H + ih) * p.W + iw]);
            }
        y[(o * p.OH + oh) * p.OW + ow] = static_cast<T>(acc);
      }
}

template void conv2d_reference<float>(const float*, const float*, const float*, int64_t, const Plane&, const Window2d&, float*);
template void conv2d_reference<double>(const double*, const double*, const double*, int64_t, const Plane&, const Window2d&,
                                       double*);

}  // namespace qkv::cpu

// im2col and col2im: the copies that turn a convolution into one GEMM per sample and group.
// Each column row is one kernel tap; along an output row the tapped input positions are an
// arithmetic sequence, so each row splits into a zero head, a strided (or, at stride 1,
// contiguous) copy, and a zero tail.
#include <algorithm>

#include "cpu/image_kernels.h"

namespace qkv::cpu {

namespace {

// The output columns [lo, hi) whose tapped input column ow * stride + off lies inside [0, W).
void valid_columns(int64_t off, int64_t stride, int64_t W, int64_t OW, int64_t* lo, int64_t* hi) {
  // ow >= ceil(-off / stride) and ow <= floor((W - 1 - off) / stride)
  *lo = off >= 0 ? 0 : std::min(OW, (-off + stride - 1) / stride);
  *hi = W - 1 - off < 0 ? 0 : std::min(OW, (W - 1 - off) / stride + 1);
  if (*hi < *lo) *hi = *lo;
}

// Calls fn(col_at, inside, x_at, lo, hi) for each kernel tap (c, ki, kj) and output row oh: the
// column segment col[col_at, col_at + OW), whether the tapped input row lies inside [0, H), and
// then the input offset x_at such that output column ow in [lo, hi) reads x[x_at + ow * stride].
template <class Fn>
void for_each_tap_row(const Plane& p, const Window2d& w, Fn&& fn) {
  const int64_t kh = w.kernel[0], kw = w.kernel[1], L = p.OH * p.OW;
  for (int64_t c = 0; c < p.C; ++c)
    for (int64_t ki = 0; ki < kh; ++ki)
      for (int64_t kj = 0; kj < kw; ++kj) {
        const int64_t off_w = kj * w.dilation[1] - w.padding[1];
        int64_t lo, hi;
        valid_columns(off_w, w.stride[1], p.W, p.OW, &lo, &hi);
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          const int64_t ih = oh * w.stride[0] - w.padding[0] + ki * w.dilation[0];
          fn(((c * kh + ki) * kw + kj) * L + oh * p.OW, ih >= 0 && ih < p.H, (c * p.H + ih) * p.W + off_w, lo, hi);
        }
      }
}

}  // namespace

template <class T>
void im2col(const T* x, const Plane& p, const Window2d& w, T* col) {
  const int64_t sw = w.stride[1], OW = p.OW;
  for_each_tap_row(p, w, [&](int64_t col_at, bool inside, int64_t x_at, int64_t lo, int64_t hi) {
    T* out = col + col_at;
    if (!inside) {
      std::fill(out, out + OW, T(0));
      return;
    }
    const T* in = x + x_at;
    std::fill(out, out + lo, T(0));
    if (sw == 1) std::copy(in + lo, in + hi, out + lo);
    else
      for (int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * sw];
    std::fill(out + hi, out + OW, T(0));
  });
}

template <class T>
void col2im(const T* col, const Plane& p, const Window2d& w, T* dx) {
  const int64_t sw = w.stride[1];
  for_each_tap_row(p, w, [&](int64_t col_at, bool inside, int64_t x_at, int64_t lo, int64_t hi) {
    if (!inside) return;
    const T* in = col + col_at;
    T* out = dx + x_at;
    for (int64_t ow = lo; ow < hi; ++ow) out[ow * sw] += in[ow];
  });
}

template void im2col<float>(const float*, const Plane&, const Window2d&, float*);
template void im2col<double>(const double*, const Plane&, const Window2d&, double*);
template void col2im<float>(const float*, const Plane&, const Window2d&, float*);
template void col2im<double>(const double*, const Plane&, const Window2d&, double*);

}  // namespace qkv::cpu

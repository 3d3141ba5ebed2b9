#pragma once
// Kernels of the image ops (NCHW), each over one sample or one [H, W] plane of contiguous data:
// im2col / col2im for convolution through GEMM, the readable direct convolution they are tested
// against, and the pooling windows. The backend (backend/cpu_conv.cpp, backend/cpu_pool.cpp)
// threads them over the batch.
#include <array>
#include <cstdint>
#include <vector>

namespace qkv::cpu {

// A sliding window over [H, W]; each field is [along H, along W]. Input row i * stride - padding
// + k * dilation (k < kernel) feeds output row i; rows outside [0, H) are zeros (convolution) or
// skipped (pooling).
struct Window2d {
  std::array<int64_t, 2> kernel{1, 1}, stride{1, 1}, padding{0, 0}, dilation{1, 1};
};

// Output size along `axis` for an input of `in` (PyTorch's floor rule); <= 0 when no window fits.
inline int64_t window_out(int64_t in, const Window2d& w, int axis) {
  const int64_t span = in + 2 * w.padding[axis] - w.dilation[axis] * (w.kernel[axis] - 1) - 1;
  return span < 0 ? 0 : span / w.stride[axis] + 1;
}

// The shape of one sample: C planes of [H, W] in, [OH, OW] out.
struct Plane {
  int64_t C, H, W, OH, OW;
};

// x [C, H, W] -> col [C * kH * kW, OH * OW]: row (c, ki, kj) holds the input each output position
// sees through kernel tap (ki, kj) of channel c (0 in the padding).
template <class T> void im2col(const T* x, const Plane& p, const Window2d& w, T* col);
// The transpose: dx [C, H, W] += the columns summed back onto the pixels they were read from.
template <class T> void col2im(const T* col, const Plane& p, const Window2d& w, T* dx);

// The readable reference: y [O, OH, OW] = sum over c, ki, kj of weight [O, C, kH, kW] x the tapped
// input of sample x [C, H, W], plus bias [O] (may be null), for one group, in double.
template <class T>
void conv2d_reference(const T* x, const T* weight, const T* bias, int64_t O, const Plane& p, const Window2d& w, T* y);

// Max over each window of a plane x [H, W] -> y [OH, OW], and the flat index ih * W + iw of each
// maximum in `arg` (the first of ties; a NaN wins, as in PyTorch; -1 for a window that misses
// the input, whose value is -inf).
template <class T> void max_pool_plane(const T* x, int64_t H, int64_t W, const Window2d& w, int64_t OH, int64_t OW, T* y,
                                       int32_t* arg);

// Averaging bins: output row i averages input rows [h0[i], h1[i]) (already inside [0, H)) and
// divides by hn[i] * wn[j]; likewise for columns. Both avgPool2d (hn counts the padding or not)
// and adaptiveAvgPool2d (PyTorch's floor/ceil bins) are such bins.
struct AvgBins {
  std::vector<int64_t> h0, h1, w0, w1;
  std::vector<double> hn, wn;
};
template <class T> void avg_pool_plane(const T* x, int64_t W, const AvgBins& b, T* y);
// dx [H, W] += the gradient of avg_pool_plane for g [OH, OW].
template <class T> void avg_pool_plane_backward(const T* g, int64_t W, const AvgBins& b, T* dx);

}  // namespace qkv::cpu

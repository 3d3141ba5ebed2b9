// The image ops (NCHW): convolution and pooling. The checks and the window arithmetic live here;
// the kernels in each device's table (backend/cpu_conv.cpp, backend/cpu_pool.cpp).
#include <algorithm>
#include <cstdint>
#include <string>

#include "backend/backend.h"
#include "core/error.h"
#include "ops/ops.h"

namespace qkv::ops {

namespace {

std::string pair_str(const std::array<int64_t, 2>& p) { return std::to_string(p[0]) + "x" + std::to_string(p[1]); }

void need_image(const Tensor& x, const char* op) {
  if (!x.defined() || !is_float(x.dtype()))
    throw_type(std::string(op) + ": input must be a float32 or float64 tensor" +
               (x.defined() ? std::string(", got ") + dtype_name(x.dtype()) : std::string()));
  if (x.dim() != 4) throw_range(std::string(op) + ": input must be 4-D [N, C, H, W], got " + shape_str(x.shape()));
}

// kernel >= 1, stride >= 1, padding >= 0, dilation >= 1, and at least one window along each axis.
void check_window(const Tensor& x, const Window2d& w, const char* op) {
  for (int a = 0; a < 2; ++a)
    if (w.kernel[a] < 1 || w.stride[a] < 1 || w.padding[a] < 0 || w.dilation[a] < 1)
      throw_range(std::string(op) + ": kernel " + pair_str(w.kernel) + ", stride " + pair_str(w.stride) + " and dilation " +
                  pair_str(w.dilation) + " must be >= 1 and padding " + pair_str(w.padding) + " >= 0");
  const int64_t OH = cpu::window_out(x.size(2), w, 0), OW = cpu::window_out(x.size(3), w, 1);
  if (OH <= 0 || OW <= 0)
    throw_range(std::string(op) + ": the output would be empty (" + std::to_string(OH) + "x" + std::to_string(OW) + ") for input " +
                shape_str(x.shape()) + " with kernel " + pair_str(w.kernel) + ", stride " + pair_str(w.stride) + ", padding " +
                pair_str(w.padding) + ", dilation " + pair_str(w.dilation));
}

// Pooling pads at most half a kernel (as PyTorch), so that every window meets the input.
void check_pool(const Tensor& x, const Window2d& w, const char* op) {
  need_image(x, op);
  check_window(x, w, op);
  if (w.padding[0] > w.kernel[0] / 2 || w.padding[1] > w.kernel[1] / 2)
    throw_range(std::string(op) + ": padding " + pair_str(w.padding) + " must be at most half the kernel " + pair_str(w.kernel));
}

Window2d conv_window(const Tensor& weight, const Conv2dOptions& o) {
  Window2d w;
  w.kernel = {weight.size(2), weight.size(3)};
  w.stride = o.stride, w.padding = o.padding, w.dilation = o.dilation;
  return w;
}

Window2d check_conv(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o) {
  const char* op = "conv2d";
  need_image(x, op);
  if (!weight.defined() || weight.dtype() != x.dtype() || (bias.defined() && bias.dtype() != x.dtype()))
    throw_type("conv2d: the input, weight and bias must be float tensors of one dtype");
  const std::string shapes = "input " + shape_str(x.shape()) + ", weight " + shape_str(weight.shape()) +
                             (bias.defined() ? ", bias " + shape_str(bias.shape()) : std::string());
  if (weight.dim() != 4) throw_range("conv2d: weight must be 4-D [O, C / groups, kH, kW], got " + shapes);
  const int64_t C = x.size(1), O = weight.size(0), G = o.groups;
  if (G < 1) throw_range("conv2d: groups must be >= 1, got " + std::to_string(G));
  if (C == 0) throw_range("conv2d: the input has no channels: " + shapes);
  if (C % G != 0 || O % G != 0)
    throw_range("conv2d: groups " + std::to_string(G) + " must divide the input channels " + std::to_string(C) + " and the output channels " +
                std::to_string(O) + ": " + shapes);
  if (weight.size(1) * G != C)
    throw_range("conv2d: the weight takes " + std::to_string(weight.size(1)) + " channels per group x " + std::to_string(G) +
                " groups, the input has " + std::to_string(C) + ": " + shapes);
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != O)) throw_range("conv2d: bias must be [" + std::to_string(O) + "]: " + shapes);
  const Window2d w = conv_window(weight, o);
  check_window(x, w, op);
  return w;
}

// PyTorch's avg_pool2d windows as bins: [i s - p, min(i s - p + k, H + p)) clipped to [0, H).
void window_bins(int64_t in, const Window2d& w, int a, bool count_include_pad, std::vector<int64_t>& lo, std::vector<int64_t>& hi,
                 std::vector<double>& n) {
  const int64_t out = cpu::window_out(in, w, a);
  for (int64_t i = 0; i < out; ++i) {
    int64_t s = i * w.stride[a] - w.padding[a];
    int64_t e = std::min(s + w.kernel[a], in + w.padding[a]);
    const int64_t padded = e - s;
    s = std::max<int64_t>(s, 0), e = std::min(e, in);
    lo.push_back(s), hi.push_back(e), n.push_back(static_cast<double>(count_include_pad ? padded : e - s));
  }
}

AvgBins avg_bins(const Shape& x_shape, const Window2d& w, bool count_include_pad) {
  AvgBins b;
  window_bins(x_shape[2], w, 0, count_include_pad, b.h0, b.h1, b.hn);
  window_bins(x_shape[3], w, 1, count_include_pad, b.w0, b.w1, b.wn);
  return b;
}

void adaptive_bins(int64_t in, int64_t out, std::vector<int64_t>& lo, std::vector<int64_t>& hi, std::vector<double>& n) {
  for (int64_t i = 0; i < out; ++i) {
    const int64_t s = i * in / out, e = ((i + 1) * in + out - 1) / out;
    lo.push_back(s), hi.push_back(e), n.push_back(static_cast<double>(e - s));
  }
}

AvgBins adaptive_avg_bins(const Shape& x_shape, std::array<int64_t, 2> out) {
  AvgBins b;
  adaptive_bins(x_shape[2], out[0], b.h0, b.h1, b.hn);
  adaptive_bins(x_shape[3], out[1], b.w0, b.w1, b.wn);
  return b;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o) {
  const char* op = "conv2d";
  const Window2d w = check_conv(x, weight, bias, o);
  return backend::call(backend::common_device({&x, &weight, &bias}, op), &backend::Backend::conv2d, op, x, weight, bias, w, o.groups);
}

Tensor conv2d_reference(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o) {
  const char* op = "conv2dReference";
  const Window2d w = check_conv(x, weight, bias, o);
  return backend::call(backend::common_device({&x, &weight, &bias}, op), &backend::Backend::conv2d_reference, op, x, weight, bias, w,
                       o.groups);
}

void conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& g, const Conv2dOptions& o, Tensor* dx, Tensor* dweight,
                     Tensor* dbias) {
  const char* op = "conv2d";
  const Window2d w = conv_window(weight, o);
  const Shape expected{x.size(0), weight.size(0), cpu::window_out(x.size(2), w, 0), cpu::window_out(x.size(3), w, 1)};
  if (g.shape() != expected) throw Error(ErrorKind::Internal, "conv2d: the output gradient has shape " + shape_str(g.shape()));
  backend::call(backend::common_device({&x, &weight, &g}, op), &backend::Backend::conv2d_backward, op, x, weight, g, w, o.groups, dx,
                dweight, dbias);
}

Tensor max_pool2d(const Tensor& x, const Window2d& win, Tensor* arg) {
  const char* op = "maxPool2d";
  check_pool(x, win, op);
  if (x.size(2) * x.size(3) > INT32_MAX) throw_range("maxPool2d: a plane of " + shape_str(x.shape()) + " has more than 2^31 - 1 pixels");
  return backend::call(x.device(), &backend::Backend::max_pool2d, op, x, win, arg);
}

Tensor max_pool2d_backward(const Tensor& g, const Tensor& arg, const Shape& x_shape) {
  const char* op = "maxPool2d";
  return backend::call(backend::common_device({&g, &arg}, op), &backend::Backend::max_pool2d_backward, op, g, arg, x_shape);
}

Tensor avg_pool2d(const Tensor& x, const Window2d& win, bool count_include_pad) {
  const char* op = "avgPool2d";
  check_pool(x, win, op);
  if (win.dilation != std::array<int64_t, 2>{1, 1}) throw_range("avgPool2d: dilation must be 1, got " + pair_str(win.dilation));
  return backend::call(x.device(), &backend::Backend::avg_pool2d, op, x, avg_bins(x.shape(), win, count_include_pad));
}

Tensor avg_pool2d_backward(const Tensor& g, const Shape& x_shape, const Window2d& win, bool count_include_pad) {
  const char* op = "avgPool2d";
  return backend::call(g.device(), &backend::Backend::avg_pool2d_backward, op, g, avg_bins(x_shape, win, count_include_pad), x_shape);
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> out_size) {
  const char* op = "adaptiveAvgPool2d";
  need_image(x, op);
  if (out_size[0] < 1 || out_size[1] < 1) throw_range("adaptiveAvgPool2d: the output size must be >= 1, got " + pair_str(out_size));
  if (x.size(2) < 1 || x.size(3) < 1) throw_range("adaptiveAvgPool2d: the input " + shape_str(x.shape()) + " has an empty plane");
  return backend::call(x.device(), &backend::Backend::avg_pool2d, op, x, adaptive_avg_bins(x.shape(), out_size));
}

Tensor adaptive_avg_pool2d_backward(const Tensor& g, const Shape& x_shape) {
  const char* op = "adaptiveAvgPool2d";
  return backend::call(g.device(), &backend::Backend::avg_pool2d_backward, op, g, adaptive_avg_bins(x_shape, {g.size(2), g.size(3)}),
                       x_shape);
}

}  // namespace qkv::ops

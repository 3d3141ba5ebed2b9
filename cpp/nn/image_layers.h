#pragma once
// Layers over images (NCHW), with PyTorch's names and layouts (Conv2d.weight [out, in / groups,
// kH, kW]; BatchNorm2d's weight, bias, running_mean, running_var), so that a PyTorch state_dict of
// the same architecture maps onto ours name for name.
#include <array>

#include "nn/module.h"
#include "ops/ops.h"

namespace qkv::nn {

struct Conv2dOptions {
  ops::Conv2dOptions window;  // stride, padding, dilation, groups
  bool bias = true;
  DType dtype = DType::F32;
  uint64_t seed = 0;
};

// PyTorch's default initialisation: weight and bias U(-1/√fan_in, 1/√fan_in), fan_in = in / groups · kH · kW.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel, const Conv2dOptions& options = {});
  Tensor forward(const Tensor& x) override;
  json::Value config() const override;
  Tensor weight, bias;  // bias undefined without one

 private:
  int64_t in_, out_;
  std::array<int64_t, 2> kernel_;
  Conv2dOptions o_;
};

struct BatchNormOptions {
  double eps = 1e-5, momentum = 0.1;
  DType dtype = DType::F32;
};

// Batch statistics while training (updating the running ones in place), running statistics in eval mode.
class BatchNorm2d : public Module {
 public:
  BatchNorm2d(int64_t channels, const BatchNormOptions& options = {});
  Tensor forward(const Tensor& x) override;
  json::Value config() const override;
  Tensor weight, bias, running_mean, running_var;

 private:
  int64_t c_;
  BatchNormOptions o_;
};

}  // namespace qkv::nn

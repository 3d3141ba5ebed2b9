#include "nn/image_layers.h"

#include <cmath>

#include "autograd/functions.h"
#include "core/error.h"
#include "nn/init.h"

namespace qkv::nn {

namespace {
json::Value integer(int64_t v) { return json::Value::integer(v); }
json::Value pair(std::array<int64_t, 2> v) {
  json::Value a = json::Value::array();
  a.push(integer(v[0]));
  a.push(integer(v[1]));
  return a;
}
}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, std::array<int64_t, 2> kernel, const Conv2dOptions& o)
    : Module("Conv2d"), in_(in), out_(out), kernel_(kernel), o_(o) {
  const int64_t g = o.window.groups;
  if (in < 1 || out < 1 || kernel[0] < 1 || kernel[1] < 1 || g < 1 || in % g != 0 || out % g != 0)
    throw_range("Conv2d: channels " + std::to_string(in) + " -> " + std::to_string(out) + ", kernel and groups " + std::to_string(g) +
                " must be positive, groups dividing both channel counts");
  const double bound = 1 / std::sqrt(static_cast<double>(in / g * kernel[0] * kernel[1]));
  Tensor w = Tensor::empty({out, in / g, kernel[0], kernel[1]}, o.dtype);
  fill_uniform(w, -bound, bound, derive_seed(o.seed, 0));
  weight = register_parameter("weight", w);
  if (o.bias) {
    Tensor b = Tensor::empty({out}, o.dtype);
    fill_uniform(b, -bound, bound, derive_seed(o.seed, 1));
    bias = register_parameter("bias", b);
  }
}

Tensor Conv2d::forward(const Tensor& x) { return ag::conv2d(x, weight, bias, o_.window); }

json::Value Conv2d::config() const {
  json::Value c = json::Value::object();
  c.set("type", json::Value::string("Conv2d"));
  c.set("in", integer(in_));
  c.set("out", integer(out_));
  c.set("kernel", pair(kernel_));
  c.set("stride", pair(o_.window.stride));
  c.set("padding", pair(o_.window.padding));
  c.set("dilation", pair(o_.window.dilation));
  c.set("groups", integer(o_.window.groups));
  c.set("bias", json::Value::boolean(o_.bias));
  c.set("dtype", json::Value::string(dtype_name(o_.dtype)));
  return c;
}

BatchNorm2d::BatchNorm2d(int64_t channels, const BatchNormOptions& o) : Module("BatchNorm2d"), c_(channels), o_(o) {
  if (channels < 1) throw_range("BatchNorm2d: channels must be positive");
  weight = register_parameter("weight", Tensor::full({channels}, o.dtype, 1.0), Decay::No);
  bias = register_parameter("bias", Tensor::zeros({channels}, o.dtype), Decay::No);
  running_mean = register_buffer("running_mean", Tensor::zeros({channels}, o.dtype));
  running_var = register_buffer("running_var", Tensor::full({channels}, o.dtype, 1.0));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  ops::BatchNormOptions b;
  b.training = is_training();
  b.momentum = o_.momentum;
  b.eps = o_.eps;
  return ag::batch_norm(x, &running_mean, &running_var, weight, bias, b);
}

json::Value BatchNorm2d::config() const {
  json::Value c = json::Value::object();
  c.set("type", json::Value::string("BatchNorm2d"));
  c.set("channels", integer(c_));
  c.set("eps", json::Value::number(o_.eps));
  c.set("momentum", json::Value::number(o_.momentum));
  c.set("dtype", json::Value::string(dtype_name(o_.dtype)));
  return c;
}

}  // namespace qkv::nn

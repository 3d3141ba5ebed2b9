// The Tensor methods that touch memory (core/tensor.h): each goes through the device's op table,
// so that a tensor's memory is only ever read or written by its own device.
#include <cstring>

#include "backend/backend.h"
#include "core/cuda_runtime.h"
#include "core/error.h"

namespace qkv {

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, dtype, 0.0, device); }

Tensor Tensor::full(const Shape& shape, DType dtype, double value, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (t.numel()) backend::call(device, &backend::Backend::fill, "full", t, value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, dtype, value, device); }

Tensor Tensor::from_host(const void* host, const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (t.numel()) backend::call(device, &backend::Backend::from_host, "fromHost", host, t);
  return t;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return alias();
  return clone();
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device());
  if (numel()) backend::call(device(), &backend::Backend::copy, "clone", *this, t);
  return t;
}

void Tensor::copy_from(const Tensor& src, const char* op) {
  if (src.shape() != shape_ || src.dtype() != dtype_)
    throw_range(std::string(op) + ": cannot copy " + shape_str(src.shape()) + " " + dtype_name(src.dtype()) + " into " + shape_str(shape_) +
                " " + dtype_name(dtype_));
  if (numel() == 0) return;
  if (src.device() != device()) {
    throw_range(std::string(op) + ": cannot copy a " + device_name(src.device()) + " tensor into a " + device_name(device()) +
                " one; move it first");
  }
  backend::call(device(), &backend::Backend::copy, op, src, *this);
}

Tensor Tensor::to(DType target) const {
  if (target == dtype_) return alias();
  const Tensor src = contiguous();
  Tensor out = empty(shape_, target, device());
  if (numel()) backend::call(device(), &backend::Backend::cast, "to", src, out);
  return out;
}

Tensor Tensor::to_device(Device target) const {
  if (target == device()) return alias();
  // Loads the plugin and registers its allocator on first use, or says why CUDA cannot be used.
  if (target == Device::CUDA) cuda::runtime("toDevice");
  const Tensor src = contiguous();
  if (device() == Device::CPU) return from_host(src.raw(), shape_, dtype_, target);
  Tensor out = empty(shape_, dtype_, target);
  if (target == Device::CPU) {
    src.to_host(out.raw());
    return out;
  }
  std::vector<char> staging(nbytes());  // neither side is host memory
  src.to_host(staging.data());
  if (numel()) backend::call(target, &backend::Backend::from_host, "toDevice", staging.data(), out);
  return out;
}

void Tensor::to_host(void* host) const {
  if (numel() == 0) return;
  const Tensor src = contiguous();
  backend::call(device(), &backend::Backend::to_host, "toHost", src, host);
}

std::vector<double> Tensor::to_host_doubles() const {
  const Tensor d = to(DType::F64);
  std::vector<double> out(static_cast<size_t>(numel()));
  d.to_host(out.data());
  return out;
}

double Tensor::item() const {
  if (numel() != 1) throw_range("item: expected a tensor with one element, got shape " + shape_str(shape_));
  if (dtype_ == DType::F64) {
    double v = 0;
    to_host(&v);
    return v;
  }
  if (dtype_ == DType::I32) {
    int32_t v = 0;
    to_host(&v);
    return v;
  }
  float v = 0;
  to_host(&v);
  return v;
}

}  // namespace qkv

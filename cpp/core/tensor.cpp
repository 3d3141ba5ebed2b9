#include "core/tensor.h"

#include <numeric>

#include "core/error.h"

namespace qkv {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::I32: return "int32";
  }
  return "float32";
}

bool dtype_from_name(const std::string& name, DType* out) {
  if (name == "float32") *out = DType::F32;
  else if (name == "float64") *out = DType::F64;
  else if (name == "int32") *out = DType::I32;
  else return false;
  return true;
}

namespace {
thread_local AllocationCap* t_cap = nullptr;
}

AllocationCap::AllocationCap(size_t bytes, std::string message) : left_(bytes), message_(std::move(message)), outer_(t_cap) {
  t_cap = this;
}

AllocationCap::~AllocationCap() { t_cap = outer_; }

void AllocationCap::take(size_t bytes) {
  if (bytes > left_) throw Error(ErrorKind::Format, message_);
  left_ -= bytes;
}

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) {
  if (t_cap) t_cap->take(n);
  data = allocator_for(d).alloc(n);
  if (!data) throw Error(ErrorKind::Range, "out of memory allocating " + std::to_string(n) + " bytes on " + device_name(d));
}

Storage::~Storage() {
  if (data) allocator_for(device).free(data);
}

int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape s(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

static void check_shape(const Shape& shape, const char* op) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw_range(std::string(op) + ": negative dimension in shape " + shape_str(shape));
    if (d > 0 && n > (int64_t(1) << 40) / d) throw_range(std::string(op) + ": shape " + shape_str(shape) + " is too large");
    n *= d;
  }
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  check_shape(shape, "empty");
  Tensor t;
  t.storage_ = std::make_shared<Storage>(static_cast<size_t>(numel_of(shape)) * dtype_size(dtype), device);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

int64_t Tensor::size(int64_t d) const { return shape_[normalize_axis(d, dim(), "size")]; }

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expect) return false;
    expect *= shape_[i];
  }
  return true;
}

static Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0) throw_range(std::string(op) + ": only one dimension can be -1, got " + shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else if (out[i] < 0) {
      throw_range(std::string(op) + ": invalid dimension in " + shape_str(shape));
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw_range(std::string(op) + ": cannot reshape " + shape_str(from) + " into " + shape_str(shape));
    out[infer] = numel / known;
  }
  if (numel_of(out) != numel)
    throw_range(std::string(op) + ": cannot reshape " + shape_str(from) + " (" + std::to_string(numel) +
                " elements) into " + shape_str(shape));
  return out;
}

Tensor Tensor::view(const Shape& shape, const char* op) const {
  if (!is_contiguous()) throw_range(std::string(op) + ": view needs a contiguous tensor, got strides " + shape_str(strides_));
  Tensor t = alias();
  t.shape_ = infer_shape(shape, numel(), shape_, op);
  t.strides_ = contiguous_strides(t.shape_);
  return t;
}

Tensor Tensor::reshape(const Shape& shape, const char* op) const {
  if (is_contiguous()) return view(shape, op);
  Shape target = infer_shape(shape, numel(), shape_, op);
  return clone().view(target, op);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims, const char* op) const {
  if (static_cast<int64_t>(dims.size()) != dim())
    throw_range(std::string(op) + ": expected " + std::to_string(dim()) + " dims for shape " + shape_str(shape_) +
                ", got " + shape_str(dims));
  std::vector<bool> seen(dims.size(), false);
  Tensor t = alias();
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = normalize_axis(dims[i], dim(), op);
    if (seen[d]) throw_range(std::string(op) + ": repeated dim in " + shape_str(dims));
    seen[d] = true;
    t.shape_[i] = shape_[d];
    t.strides_[i] = strides_[d];
  }
  return t;
}

Tensor Tensor::transpose(int64_t a, int64_t b, const char* op) const {
  std::vector<int64_t> dims(dim());
  std::iota(dims.begin(), dims.end(), 0);
  a = normalize_axis(a, dim(), op);
  b = normalize_axis(b, dim(), op);
  std::swap(dims[a], dims[b]);
  return permute(dims, op);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step, const char* op) const {
  d = normalize_axis(d, dim(), op);
  if (step <= 0) throw_range(std::string(op) + ": step must be positive, got " + std::to_string(step));
  int64_t n = shape_[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::min(std::max<int64_t>(start, 0), n);
  end = std::min(std::max<int64_t>(end, start), n);
  Tensor t = alias();
  t.offset_ += start * strides_[d];
  t.shape_[d] = (end - start + step - 1) / step;
  t.strides_[d] = strides_[d] * step;
  return t;
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = normalize_axis(d, dim() + 1, "unsqueeze");
  Tensor t = alias();
  int64_t stride = d < dim() ? shape_[d] * strides_[d] : 1;
  t.shape_.insert(t.shape_.begin() + d, 1);
  t.strides_.insert(t.strides_.begin() + d, stride);
  return t;
}

Tensor Tensor::expand(const Shape& shape, const char* op) const {
  if (shape.size() < shape_.size())
    throw_range(std::string(op) + ": cannot expand " + shape_str(shape_) + " to " + shape_str(shape));
  Tensor t = alias();
  const size_t lead = shape.size() - shape_.size();
  t.shape_ = shape;
  t.strides_.assign(shape.size(), 0);
  for (size_t i = 0; i < shape_.size(); ++i) {
    if (shape_[i] == shape[lead + i]) t.strides_[lead + i] = strides_[i];
    else if (shape_[i] != 1) throw_range(std::string(op) + ": cannot expand " + shape_str(shape_) + " to " + shape_str(shape));
  }
  return t;
}

Tensor Tensor::alias() const {
  Tensor t;
  t.storage_ = storage_;
  t.offset_ = offset_;
  t.shape_ = shape_;
  t.strides_ = strides_;
  t.dtype_ = dtype_;
  return t;
}

Tensor Tensor::detach() const { return alias(); }

int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op) {
  if (axis < -ndim || axis >= ndim || ndim == 0)
    throw_range(std::string(op) + ": axis " + std::to_string(axis) + " is out of range for a tensor with " +
                std::to_string(ndim) + " dims");
  return axis < 0 ? axis + ndim : axis;
}

}  // namespace qkv

#pragma once
// A strided view of reference-counted storage. Views (reshape of contiguous data, permute,
// transpose, slice) share the storage; ops produce new contiguous tensors.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"

namespace qkv {

using Shape = std::vector<int64_t>;

// Memory of one device, from that device's allocator.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device = Device::CPU;
  int js_handles = 0;  // owned by the binding: how many JavaScript objects hold this storage
  // Jobs using this memory on another thread (a model's parameters, gradients and buffers while
  // it trains, say): the binding refuses JavaScript access while it is above zero.
  std::atomic<int> busy{0};
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

// Caps what Storage may allocate on this thread while the cap lives (the innermost cap applies).
// Past it, allocation throws Error(Format) with `message`: loading builds a model from a file's
// config under a cap derived from the file's size, so that a small file whose config asks for a
// huge model is refused before the memory is taken.
class AllocationCap {
 public:
  AllocationCap(size_t bytes, std::string message);
  ~AllocationCap();
  AllocationCap(const AllocationCap&) = delete;
  AllocationCap& operator=(const AllocationCap&) = delete;
  void take(size_t bytes);  // throws when over the cap

 private:
  size_t left_;
  std::string message_;
  AllocationCap* outer_;
};

struct AutogradMeta;  // cpp/autograd/autograd.h

int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // New contiguous tensors, on `device` (by default the running op's device, else the process's
  // default device: see core/device.h). The filling ones go through the device's ops.
  static Tensor empty(const Shape& shape, DType dtype, Device device = current_device());
  static Tensor zeros(const Shape& shape, DType dtype, Device device = current_device());
  static Tensor full(const Shape& shape, DType dtype, double value, Device device = current_device());
  static Tensor scalar(double value, DType dtype, Device device = current_device());
  // A copy of host memory (numel x dtype size bytes, row-major) on `device`.
  static Tensor from_host(const void* host, const Shape& shape, DType dtype, Device device = current_device());

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::CPU; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t offset() const { return offset_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return numel_of(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  bool is_contiguous() const;
  Tensor contiguous() const;  // itself when already contiguous, else a copy
  Tensor clone() const;       // always a contiguous copy

  // Views. `op` names the calling operation in error messages.
  Tensor view(const Shape& shape, const char* op = "reshape") const;    // contiguous input only
  Tensor reshape(const Shape& shape, const char* op = "reshape") const; // view when possible, else copy
  Tensor permute(const std::vector<int64_t>& dims, const char* op = "permute") const;
  Tensor transpose(int64_t a, int64_t b, const char* op = "transpose") const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1, const char* op = "slice") const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape, const char* op = "expand") const;  // broadcast view (stride 0)
  void copy_from(const Tensor& src, const char* op = "copy");          // writes src into this (strided) view

  // The memory itself: for the op implementations of cpp/backend/ only. Any other code goes through
  // ops or to_host()/from_host(); for a tensor whose device the host may not touch now, these
  // throw Error(Device) (core/device.h).
  template <class T> T* data() {
    check_access();
    return static_cast<T*>(storage_->data) + offset_;
  }
  template <class T> const T* data() const {
    check_access();
    return static_cast<const T*>(storage_->data) + offset_;
  }
  void* raw() const {
    check_access();
    return static_cast<char*>(storage_->data) + offset_ * dtype_size(dtype_);
  }

  // Autograd (cpp/autograd/autograd.h). Views and ops made by the methods above carry no autograd
  // state: the differentiable ops in qkv::ag attach it.
  const std::shared_ptr<AutogradMeta>& autograd() const { return meta_; }
  std::shared_ptr<AutogradMeta>& autograd() { return meta_; }
  bool requires_grad() const;
  // Whether a job is using the storage on another thread (see Storage::busy).
  bool busy() const { return storage_ && storage_->busy.load(std::memory_order_acquire) > 0; }
  Tensor detach() const;  // the same data, without autograd state

  double item() const;                   // the single element, as double (a copy to the host)
  Tensor to(DType dtype) const;          // a converted contiguous copy (itself when equal)
  // A contiguous copy on `device` (itself when already there), through host memory, with no autograd
  // state. Error(Unsupported) with the reason when that device cannot be used here.
  Tensor to_device(Device device) const;
  void to_host(void* host) const;        // the elements in row-major order into host memory
  std::vector<double> to_host_doubles() const;  // the same, converted to double (small tensors)

 private:
  Tensor alias() const;  // same storage and layout, no autograd state
  void check_access() const {
    if (storage_->device != Device::CPU) check_host_access(storage_->device, "tensor memory");
  }
  std::shared_ptr<Storage> storage_;
  std::shared_ptr<AutogradMeta> meta_;
  int64_t offset_ = 0;
  Shape shape_, strides_;
  DType dtype_ = DType::F32;
};

// Normalises an axis in [-ndim, ndim) to [0, ndim); throws RangeError naming `op` otherwise.
int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op);

}  // namespace qkv

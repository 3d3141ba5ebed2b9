#pragma once
// A row-major float matrix whose rows are padded to a multiple of 16 floats and 64-byte aligned
// (the layout the kernels expect). Padding columns are kept at zero.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace qkv::w2v {

inline int padded_stride(int dim) { return (dim + 15) / 16 * 16; }

class Matrix {
 public:
  Matrix() = default;
  Matrix(int64_t rows, int dim) { reset(rows, dim); }
  ~Matrix() { std::free(data_); }
  Matrix(const Matrix&) = delete;
  Matrix& operator=(const Matrix&) = delete;
  Matrix(Matrix&& o) noexcept { swap(o); }
  Matrix& operator=(Matrix&& o) noexcept {
    swap(o);
    return *this;
  }
  void swap(Matrix& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(rows_, o.rows_);
    std::swap(dim_, o.dim_);
    std::swap(stride_, o.stride_);
  }
  // Allocates rows x dim, zero-filled. Throws std::bad_alloc when memory runs out.
  void reset(int64_t rows, int dim) {
    std::free(data_);
    data_ = nullptr;
    rows_ = rows;
    dim_ = dim;
    stride_ = padded_stride(dim);
    size_t bytes = static_cast<size_t>(rows) * stride_ * sizeof(float);
    if (bytes == 0) bytes = 64;
    bytes = (bytes + 63) / 64 * 64;
    data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!data_) throw std::bad_alloc();
    std::memset(data_, 0, bytes);
  }
  void clear() {
    std::free(data_);
    data_ = nullptr;
    rows_ = 0;
  }
  bool empty() const { return rows_ == 0; }
  int64_t rows() const { return rows_; }
  int dim() const { return dim_; }
  int stride() const { return stride_; }
  float* row(int64_t r) { return data_ + r * stride_; }
  const float* row(int64_t r) const { return data_ + r * stride_; }
  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t bytes() const { return static_cast<size_t>(rows_) * stride_ * sizeof(float); }

 private:
  float* data_ = nullptr;
  int64_t rows_ = 0;
  int dim_ = 0;
  int stride_ = 16;
};

}  // namespace qkv::w2v

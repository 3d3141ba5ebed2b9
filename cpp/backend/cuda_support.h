#pragma once
// What the CUDA device's op entries share: tensors as the plugin's descriptors, the call of one
// plugin slot with its status checked, and the plugin's codes for the core's enums.
#include "backend/backend.h"
#include "core/cuda_runtime.h"

namespace qkv::backend {

// The entries of the CUDA table (backend/cuda_memory.cpp, backend/cuda_kernels.cpp).
namespace cuda_impl {
#define QKV_BACKEND_DECL(name, ret, params) ret name params;
QKV_BACKEND_OPS(QKV_BACKEND_DECL)
#undef QKV_BACKEND_DECL
}  // namespace cuda_impl

namespace cuda_support {

// A tensor as a qkv_cuda_tensor. It holds the tensor, so a temporary view passed to a slot lives
// as long as the call; not copyable, since the descriptor points into the held shape and strides.
class Desc {
 public:
  explicit Desc(const Tensor& t) : t_(t) {
    if (!t_.defined()) return;
    c_.data = t_.raw();  // inside the CUDA entry's DeviceScope: the device pointer itself
    c_.dtype = static_cast<int32_t>(t_.dtype());
    c_.ndim = static_cast<int32_t>(t_.dim());
    c_.shape = t_.shape().data();
    c_.strides = t_.strides().data();
  }
  explicit Desc(const Tensor* t) : Desc(t ? *t : Tensor()) {}  // null: an absent operand
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  operator qkv_cuda_t() const { return &c_; }

 private:
  Tensor t_;
  qkv_cuda_tensor c_{};
};

// The slots whose inputs must be contiguous get them so (undefined stays undefined).
inline Tensor dense(const Tensor& t) { return t.defined() ? t.contiguous() : t; }

// The plugin's table; entries run only on CUDA tensors, which exist only once it is ready.
inline const qkv_cuda_table_v2& table() { return *cuda::plugin_table(); }

// Calls `slot` on the core's stream and throws for a failed status, naming `op`.
template <class Slot, class... Args>
void run(Slot slot, const char* op, Args&&... args) {
  const qkv_cuda_table_v2& p = table();
  cuda::check(p, (p.*slot)(cuda::stream(), std::forward<Args>(args)...), op);
}

template <class E> int32_t code(E e) { return static_cast<int32_t>(e); }

static_assert(static_cast<int>(DType::F32) == QKV_CUDA_F32 && static_cast<int>(DType::F64) == QKV_CUDA_F64 &&
              static_cast<int>(DType::I32) == QKV_CUDA_I32);
static_assert(static_cast<int>(BinaryOp::Add) == QKV_CUDA_ADD && static_cast<int>(BinaryOp::Sub) == QKV_CUDA_SUB &&
              static_cast<int>(BinaryOp::Mul) == QKV_CUDA_MUL && static_cast<int>(BinaryOp::Div) == QKV_CUDA_DIV &&
              static_cast<int>(BinaryOp::Pow) == QKV_CUDA_POW && static_cast<int>(BinaryOp::Maximum) == QKV_CUDA_MAXIMUM &&
              static_cast<int>(BinaryOp::Minimum) == QKV_CUDA_MINIMUM && static_cast<int>(BinaryOp::Equal) == QKV_CUDA_EQUAL);
static_assert(static_cast<int>(UnaryOp::Neg) == QKV_CUDA_NEG && static_cast<int>(UnaryOp::Exp) == QKV_CUDA_EXP &&
              static_cast<int>(UnaryOp::Log) == QKV_CUDA_LOG && static_cast<int>(UnaryOp::Sqrt) == QKV_CUDA_SQRT &&
              static_cast<int>(UnaryOp::Tanh) == QKV_CUDA_TANH && static_cast<int>(UnaryOp::Abs) == QKV_CUDA_ABS &&
              static_cast<int>(UnaryOp::Relu) == QKV_CUDA_RELU && static_cast<int>(UnaryOp::GeluTanh) == QKV_CUDA_GELU_TANH &&
              static_cast<int>(UnaryOp::GeluErf) == QKV_CUDA_GELU_ERF && static_cast<int>(UnaryOp::Sigmoid) == QKV_CUDA_SIGMOID &&
              static_cast<int>(UnaryOp::QuickGelu) == QKV_CUDA_QUICK_GELU);
static_assert(static_cast<int>(ReduceKind::Sum) == QKV_CUDA_REDUCE_SUM && static_cast<int>(ReduceKind::Max) == QKV_CUDA_REDUCE_MAX &&
              static_cast<int>(ReduceKind::Argmax) == QKV_CUDA_REDUCE_ARGMAX);
static_assert(static_cast<int>(RandomKind::Normal) == QKV_CUDA_RANDOM_NORMAL &&
              static_cast<int>(RandomKind::Uniform) == QKV_CUDA_RANDOM_UNIFORM);

}  // namespace cuda_support

// What every CUDA entry uses, by its short name.
namespace cuda_impl {
using cuda_support::code;
using cuda_support::dense;
using cuda_support::Desc;
using cuda_support::run;
using Table = qkv_cuda_table_v2;
}  // namespace cuda_impl

}  // namespace qkv::backend

// Elementwise ops: binary with numpy broadcasting (strided inputs read in place), and unary math.
#include <algorithm>

#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace qkv::ops {

using cpu::BinaryOp;
using cpu::UnaryOp;

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Pow: return "pow";
    case BinaryOp::Maximum: return "maximum";
    case BinaryOp::Minimum: return "minimum";
  }
  return "binary";
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::GeluTanh: return "geluTanh";
    case UnaryOp::GeluErf: return "gelu";
  }
  return "unary";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw_range(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Strides of `t` aligned to `out` (leading and size-1 dims get stride 0).
static Shape broadcast_strides(const Tensor& t, const Shape& out) {
  Shape s(out.size(), 0);
  size_t off = out.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i) s[off + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return s;
}

template <class T, class Kernel>
static void run_binary(Kernel kernel, BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  // Collapse the iteration space: merge adjacent dims that are contiguous for a, b and out alike.
  Shape shape = out.shape(), sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  Shape so = contiguous_strides(shape);
  std::vector<int64_t> dims, as, bs, os;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (!dims.empty() && as.back() == sa[i] * shape[i] && bs.back() == sb[i] * shape[i] && os.back() == so[i] * shape[i]) {
      dims.back() *= shape[i];
      as.back() = sa[i];
      bs.back() = sb[i];
      os.back() = so[i];
    } else {
      dims.push_back(shape[i]);
      as.push_back(sa[i]);
      bs.push_back(sb[i]);
      os.push_back(so[i]);
    }
  }
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  if (dims.empty()) {  // a single element
    kernel(op, 1, pa, 0, pb, 0, po);
    return;
  }
  const int64_t nd = static_cast<int64_t>(dims.size());
  const int64_t inner = dims[nd - 1], ia = as[nd - 1], ib = bs[nd - 1];
  const int64_t outer = out.numel() / inner;
  if (outer == 1) {
    parallel_for(0, inner, 32768, [&](int64_t lo, int64_t hi) {
      kernel(op, hi - lo, pa + lo * ia, ia, pb + lo * ib, ib, po + lo);
    });
    return;
  }
  parallel_for(0, outer, std::max<int64_t>(1, 32768 / inner), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      int64_t rem = r, oa = 0, ob = 0;
      for (int64_t d = nd - 2; d >= 0; --d) {
        int64_t idx = rem % dims[d];
        rem /= dims[d];
        oa += idx * as[d];
        ob += idx * bs[d];
      }
      kernel(op, inner, pa + oa, ia, pb + ob, ib, po + r * inner);
    }
  });
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  if (a.dtype() != b.dtype())
    throw_type(std::string(name) + ": dtypes differ (" + dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()) + ")");
  if (a.dtype() == DType::I32 && (op == BinaryOp::Div || op == BinaryOp::Pow))
    throw_type(std::string(name) + ": not defined for int32 tensors; convert to float32 first");
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), name), a.dtype());
  if (out.numel() == 0) return out;
  const auto& k = cpu::kernels();
  switch (a.dtype()) {
    case DType::F32: run_binary<float>(k.f32.binary, op, a, b, out); break;
    case DType::F64: run_binary<double>(k.f64.binary, op, a, b, out); break;
    case DType::I32: run_binary<int32_t>(k.binary_i32, op, a, b, out); break;
  }
  return out;
}

Tensor unary(UnaryOp op, const Tensor& a) {
  if (!is_float(a.dtype())) {
    if (a.dtype() == DType::I32 && (op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Relu)) {
      Tensor src = a.contiguous(), out = Tensor::empty(a.shape(), a.dtype());
      const int32_t* s = src.data<int32_t>();
      int32_t* o = out.data<int32_t>();
      for (int64_t i = 0, n = a.numel(); i < n; ++i)
        o[i] = op == UnaryOp::Neg ? -s[i] : op == UnaryOp::Abs ? (s[i] < 0 ? -s[i] : s[i]) : (s[i] > 0 ? s[i] : 0);
      return out;
    }
    throw_type(std::string(unary_name(op)) + ": needs a float32 or float64 tensor, got " + dtype_name(a.dtype()));
  }
  Tensor src = a.contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  dispatch_float(a.dtype(), [&](auto z) {
    using T = decltype(z);
    const auto& k = cpu::kernels_of<T>();
    const T* s = src.data<T>();
    T* o = out.data<T>();
    parallel_for(0, a.numel(), 16384, [&](int64_t lo, int64_t hi) { k.unary(op, hi - lo, s + lo, o + lo); });
    return 0;
  });
  return out;
}

}  // namespace qkv::ops

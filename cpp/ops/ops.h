#pragma once
// The ops: forward computations on tensors of any device. Each checks its arguments (throwing
// qkv::Error naming the op and the shapes), then runs the implementation of its inputs' device
// (backend/backend.h). Each returns a new tensor (or a view, for the layout ops). Inputs may be
// strided views. These record nothing: the differentiable versions are in autograd/functions.h.
#include <array>
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "ops/op_args.h"

namespace qkv::ops {

// ---- linear algebra -------------------------------------------------------------------------------
// [..., M, K] x [..., K, N] -> [..., M, N]; batch dims broadcast; 1-D operands are promoted as in numpy.
// Transposed views (from .transpose()) are read in place, without a copy.
Tensor matmul(const Tensor& a, const Tensor& b);
// x [N, in] W^T + b: weight [out, in] (PyTorch's layout), bias [out] or undefined -> [N, out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
// Its gradients for g [N, out]: each output that is non-null is computed.
void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& g, Tensor* dx, Tensor* dweight, Tensor* dbias);

// ---- elementwise ------------------------------------------------------------------------------------
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
Tensor unary(UnaryOp op, const Tensor& a);
const char* binary_name(BinaryOp op);
const char* unary_name(UnaryOp op);
// g * op'(x) (y = op(x) given too, for the rules that use it).
Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& g);
// The partial of a (op) b with respect to a (wrt_b false) or b, times g, for Pow, Maximum and
// Minimum (ties share evenly, as in PyTorch); a and b broadcast to y's shape.
Tensor binary_backward(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& y, const Tensor& g, bool wrt_b);
// Dropout on y (x + dropout(y) when x is given), from a counter-based law (op_args.h).
Tensor dropout(const Tensor* x, const Tensor& y, const DropoutLaw& law);

// ---- reductions (axes empty = all; negative axes count from the end) ---------------------------------
Tensor sum(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims);
Tensor mean(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims);
Tensor max(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims);
Tensor argmax(const Tensor& a, int64_t axis, bool keepdims);  // int32
double sum_squares(const Tensor& a);                          // over all elements, in double

// ---- fused ------------------------------------------------------------------------------------------
Tensor softmax(const Tensor& a, bool log);  // over the last axis
// Layer norm over the last axis; gamma/beta of shape [C] (either may be undefined).
// mean_out / rstd_out (shape [rows]) receive the statistics the backward pass needs.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, Tensor* mean_out = nullptr,
                  Tensor* rstd_out = nullptr);
void layer_norm_backward(const Tensor& x, const Tensor& g, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                         Tensor* dx, Tensor* dgamma, Tensor* dbeta);
// weight [V, D], ids int32 of any shape -> [...ids.shape, D]; its weight gradient [V, D] (only the rows used are non-zero).
Tensor embedding(const Tensor& weight, const Tensor& ids);
Tensor embedding_backward(const Tensor& ids, const Tensor& g, int64_t num_embeddings);
// logits [N, C], targets int32 [N] -> mean loss over targets != ignore_index (a scalar);
// with label_smoothing e the target distribution is (1-e) one-hot + e/C. Backward: dlogits for
// the scalar output gradient g.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index, double label_smoothing);
Tensor cross_entropy_backward(const Tensor& logits, const Tensor& targets, int64_t ignore_index, double label_smoothing,
                              const Tensor& g);

// ---- masks ------------------------------------------------------------------------------------------
// [B, L] of `dtype`: row b holds value[b] at positions [starts[b], ends[b]) and 0 elsewhere
// (pooling weights, padding masks). starts may be empty (all 0).
Tensor sequence_mask(int64_t L, const std::vector<int32_t>& starts, const std::vector<int32_t>& ends,
                     const std::vector<double>& value, DType dtype);

// ---- layout -----------------------------------------------------------------------------------------
Tensor concat(const std::vector<Tensor>& parts, int64_t axis);
// Rows idx of x along axis 0, as a new contiguous tensor; RangeError for an index out of range.
Tensor index_select(const Tensor& x, const std::vector<int64_t>& idx);
// dst[..., start:start + src.size(axis), ...] = src along `axis`, in place (dst may be a view):
// how a preallocated key/value cache takes each step's keys and values.
void write_slice(Tensor& dst, int64_t axis, int64_t start, const Tensor& src);
// dst[idx[i]] += src[i] along axis 0 (dst contiguous; src [idx.size(), ...dst.shape[1:]]).
void index_add(Tensor& dst, const std::vector<int64_t>& idx, const Tensor& src);

// ---- images (NCHW) ----------------------------------------------------------------------------------
struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1}, padding{0, 0}, dilation{1, 1};  // [h, w]
  int64_t groups = 1;
};
// x [N, C, H, W], weight [O, C / groups, kH, kW], bias [O] or undefined -> [N, O, OH, OW], with
// OH = floor((H + 2 padding - dilation (kH - 1) - 1) / stride) + 1 (likewise OW). The reference
// is the direct loop of cpu/conv_reference.cpp, for tests.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o);
Tensor conv2d_reference(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o);
// Its gradients for g [N, O, OH, OW]: each output that is non-null is computed.
void conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& g, const Conv2dOptions& o, Tensor* dx, Tensor* dweight,
                     Tensor* dbias);
// The max of each window (padding at most half the kernel, as in PyTorch) -> [N, C, OH, OW];
// *arg receives the int32 index ih * W + iw of each maximum in its plane (the first of ties).
// The backward adds g at those indices.
Tensor max_pool2d(const Tensor& x, const Window2d& win, Tensor* arg = nullptr);
Tensor max_pool2d_backward(const Tensor& g, const Tensor& arg, const Shape& x_shape);
// The mean of each window (dilation 1): divided by the window's size counting the padding inside
// it (count_include_pad, PyTorch's default) or by the input pixels it covers.
Tensor avg_pool2d(const Tensor& x, const Window2d& win, bool count_include_pad);
Tensor avg_pool2d_backward(const Tensor& g, const Shape& x_shape, const Window2d& win, bool count_include_pad);
// Means over out_size [OH, OW] bins: output row i averages input rows [floor(i H / OH),
// ceil((i + 1) H / OH)), likewise for columns (PyTorch's adaptive_avg_pool2d).
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> out_size);
Tensor adaptive_avg_pool2d_backward(const Tensor& g, const Shape& x_shape);

// ---- creation ---------------------------------------------------------------------------------------
Tensor randn(const Shape& shape, DType dtype, uint64_t seed, double mean, double std);
Tensor rand_uniform(const Shape& shape, DType dtype, uint64_t seed, double low, double high);
Tensor arange(double start, double end, double step, DType dtype);

// ---- in place (not recorded; for optimizers and initialisers) ------------------------------------------
void scale_inplace(Tensor& x, double c);
void adam_step(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamStep& a);
void sgd_step(Tensor& p, const Tensor& g, Tensor* momentum, const SgdStep& a);

}  // namespace qkv::ops

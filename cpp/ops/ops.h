#pragma once
// Forward ops on CPU tensors. Each returns a new tensor (or a view, for the layout ops) and
// throws qkv::Error naming the op and the shapes on bad input. Inputs may be strided views.
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "cpu/kernels.h"

namespace qkv::ops {

// ---- linear algebra -------------------------------------------------------------------------------
// [..., M, K] x [..., K, N] -> [..., M, N]; batch dims broadcast; 1-D operands are promoted as in numpy.
// Transposed views (from .transpose()) are read in place, without a copy.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- elementwise ------------------------------------------------------------------------------------
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
Tensor binary(cpu::BinaryOp op, const Tensor& a, const Tensor& b);
Tensor unary(cpu::UnaryOp op, const Tensor& a);
const char* binary_name(cpu::BinaryOp op);
const char* unary_name(cpu::UnaryOp op);

// ---- reductions (axes empty = all; negative axes count from the end) ---------------------------------
Tensor sum(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims);
Tensor mean(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims);
Tensor max(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims);
Tensor argmax(const Tensor& a, int64_t axis, bool keepdims);  // int32

// ---- fused ------------------------------------------------------------------------------------------
Tensor softmax(const Tensor& a, bool log);  // over the last axis
// Layer norm over the last axis; gamma/beta of shape [C] (either may be undefined).
// mean_out / rstd_out (shape [rows]) receive the statistics the backward pass needs.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, Tensor* mean_out = nullptr,
                  Tensor* rstd_out = nullptr);
// weight [V, D], ids int32 of any shape -> [...ids.shape, D]
Tensor embedding(const Tensor& weight, const Tensor& ids);
// logits [N, C], targets int32 [N] -> mean loss over targets != ignore_index (a scalar);
// with label_smoothing e the target distribution is (1-e) one-hot + e/C.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index, double label_smoothing);

// ---- layout -----------------------------------------------------------------------------------------
Tensor concat(const std::vector<Tensor>& parts, int64_t axis);

// ---- creation ---------------------------------------------------------------------------------------
Tensor randn(const Shape& shape, DType dtype, uint64_t seed, double mean, double std);
Tensor rand_uniform(const Shape& shape, DType dtype, uint64_t seed, double low, double high);
Tensor arange(double start, double end, double step, DType dtype);

}  // namespace qkv::ops

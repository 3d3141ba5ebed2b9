#pragma once
// Differentiable versions of the registry's ops: the forward kernel of qkv::ops plus, when an input
// requires gradients, a recorded backward. Models and the binding call these.
#include <vector>

#include "autograd/autograd.h"
#include "ops/attention.h"
#include "ops/norm.h"
#include "ops/contrastive.h"
#include "ops/ops.h"

namespace qkv::ag {

Tensor reshape(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t a, int64_t b);
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end, int64_t step);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);  // always a copy
Tensor concat(const std::vector<Tensor>& parts, int64_t axis);
Tensor matmul(const Tensor& a, const Tensor& b);
// x [N, in] W^T + b with weight [out, in], bias [out] or undefined (recorded as "linear").
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
Tensor binary(cpu::BinaryOp op, const Tensor& a, const Tensor& b);
Tensor unary(cpu::UnaryOp op, const Tensor& x);
Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims);
Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims);
Tensor max(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims);
Tensor softmax(const Tensor& x, bool log);
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);
Tensor embedding(const Tensor& weight, const Tensor& ids);
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index, double label_smoothing);
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const ops::AttentionOptions& options);
// dropout(y) = y * mask / (1 - p), from the counter-based law of ops/op_args.h (p == 0: y itself);
// add_dropout(x, y) = x + dropout(y) in one pass (a residual connection and its dropout).
Tensor dropout(const Tensor& y, double p, uint64_t seed);
Tensor add_dropout(const Tensor& x, const Tensor& y, double p, uint64_t seed);
// Rows idx of x along axis 0 (any index may repeat; its gradient adds up).
Tensor index_select(const Tensor& x, const std::vector<int64_t>& idx);

// ---- images (NCHW; ops/ops.h has the shapes)
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ops::Conv2dOptions& options);
Tensor max_pool2d(const Tensor& x, const ops::Window2d& window);
Tensor avg_pool2d(const Tensor& x, const ops::Window2d& window, bool count_include_pad);
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> out_size);
// ---- normalisation (autograd/norm_functions.cpp)
// ops::batch_norm, recorded for x, gamma, beta (the running statistics get no gradient); in
// training mode the backward differentiates through the batch statistics.
Tensor batch_norm(const Tensor& x, Tensor* running_mean, Tensor* running_var, const Tensor& gamma, const Tensor& beta,
                  const ops::BatchNormOptions& options);
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta, double eps);
// ---- contrastive
// The fused CLIP / SigLIP loss of ops/contrastive.h (bias: SigLIP only, else undefined); gradients
// for the embeddings, log_scale and bias.
Tensor info_nce(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ops::ContrastiveLoss loss);

// Conveniences over the above.
inline Tensor add(const Tensor& a, const Tensor& b) { return binary(cpu::BinaryOp::Add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(cpu::BinaryOp::Sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(cpu::BinaryOp::Mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(cpu::BinaryOp::Div, a, b); }
Tensor scale(const Tensor& x, double s);  // x * s

}  // namespace qkv::ag

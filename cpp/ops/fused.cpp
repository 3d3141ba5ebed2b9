// Fused ops and their backward pairs: softmax, layer norm, embedding, cross-entropy, and masks
// made from per-row lengths. The checks live here; the kernels in each device's table.
#include "backend/backend.h"
#include "core/error.h"
#include "ops/ops.h"

namespace qkv::ops {

namespace {

void need_float(const Tensor& t, const char* op, const char* what) {
  if (!t.defined() || !is_float(t.dtype()))
    throw_type(std::string(op) + ": " + what + " must be a float32 or float64 tensor" +
               (t.defined() ? std::string(", got ") + dtype_name(t.dtype()) : std::string()));
}

}  // namespace

Tensor softmax(const Tensor& a, bool log) {
  const char* op = log ? "logSoftmax" : "softmax";
  need_float(a, op, "input");
  if (a.dim() == 0) throw_range(std::string(op) + ": needs at least 1 dim, got a scalar");
  return backend::call(a.device(), &backend::Backend::softmax, op, a, log);
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, Tensor* mean_out, Tensor* rstd_out) {
  const char* op = "layerNorm";
  need_float(x, op, "input");
  if (x.dim() == 0) throw_range("layerNorm: needs at least 1 dim, got a scalar");
  const int64_t C = x.size(-1);
  for (const Tensor* p : {&gamma, &beta}) {
    if (!p->defined()) continue;
    const char* name = p == &gamma ? "gamma" : "beta";
    if (p->dtype() != x.dtype())
      throw_type(std::string("layerNorm: ") + name + " dtype " + dtype_name(p->dtype()) + " differs from input " + dtype_name(x.dtype()));
    if (p->dim() != 1 || p->size(0) != C)
      throw_range(std::string("layerNorm: ") + name + " must have shape [" + std::to_string(C) + "] for input " +
                  shape_str(x.shape()) + ", got " + shape_str(p->shape()));
  }
  if (!(eps >= 0)) throw_range("layerNorm: eps must be >= 0");
  if (beta.defined() && !gamma.defined()) throw_range("layerNorm: beta given without gamma");
  return backend::call(backend::common_device({&x, &gamma, &beta}, op), &backend::Backend::layer_norm, op, x, gamma, beta, eps,
                       mean_out, rstd_out);
}

void layer_norm_backward(const Tensor& x, const Tensor& g, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                         Tensor* dx, Tensor* dgamma, Tensor* dbeta) {
  const char* op = "layerNorm";
  backend::call(backend::common_device({&x, &g, &gamma, &mean, &rstd}, op), &backend::Backend::layer_norm_backward, op, x, g, gamma,
                mean, rstd, dx, dgamma, dbeta);
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  const char* op = "embedding";
  if (!ids.defined() || ids.dtype() != DType::I32)
    throw_type(std::string("embedding: ids must be int32") + (ids.defined() ? std::string(", got ") + dtype_name(ids.dtype()) : std::string()));
  need_float(weight, op, "weight");
  if (weight.dim() != 2) throw_range("embedding: weight must be 2-D [V, D], got " + shape_str(weight.shape()));
  return backend::call(backend::common_device({&weight, &ids}, op), &backend::Backend::embedding, op, weight, ids);
}

Tensor embedding_backward(const Tensor& ids, const Tensor& g, int64_t num_embeddings) {
  const char* op = "embedding";
  return backend::call(backend::common_device({&ids, &g}, op), &backend::Backend::embedding_backward, op, ids, g, num_embeddings);
}

namespace {

void check_cross_entropy(const Tensor& logits, const Tensor& targets, double smoothing) {
  need_float(logits, "crossEntropy", "logits");
  if (!targets.defined() || targets.dtype() != DType::I32)
    throw_type(std::string("crossEntropy: targets must be int32") +
               (targets.defined() ? std::string(", got ") + dtype_name(targets.dtype()) : std::string()));
  if (logits.dim() != 2) throw_range("crossEntropy: logits must be 2-D [N, C], got " + shape_str(logits.shape()));
  if (targets.dim() != 1 || targets.size(0) != logits.size(0))
    throw_range("crossEntropy: targets must have shape [" + std::to_string(logits.size(0)) + "] for logits " + shape_str(logits.shape()) +
                ", got " + shape_str(targets.shape()));
  if (!(smoothing >= 0 && smoothing <= 1)) throw_range("crossEntropy: labelSmoothing must be in [0, 1]");
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index, double smoothing) {
  const char* op = "crossEntropy";
  check_cross_entropy(logits, targets, smoothing);
  return backend::call(backend::common_device({&logits, &targets}, op), &backend::Backend::cross_entropy, op, logits, targets, ignore_index,
                       smoothing);
}

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& targets, int64_t ignore_index, double smoothing, const Tensor& g) {
  const char* op = "crossEntropy";
  return backend::call(backend::common_device({&logits, &targets, &g}, op), &backend::Backend::cross_entropy_backward, op, logits,
                       targets, ignore_index, smoothing, g);
}

Tensor sequence_mask(int64_t L, const std::vector<int32_t>& starts, const std::vector<int32_t>& ends, const std::vector<double>& value,
                     DType dtype) {
  const char* op = "sequenceMask";
  if (!is_float(dtype)) throw_type("sequenceMask: dtype must be float32 or float64");
  if (value.size() != ends.size() || (!starts.empty() && starts.size() != ends.size()))
    throw_range("sequenceMask: starts, ends and values must have one entry per row");
  for (size_t b = 0; b < ends.size(); ++b) {
    const int32_t lo = starts.empty() ? 0 : starts[b];
    if (lo < 0 || ends[b] < lo || ends[b] > L)
      throw_range("sequenceMask: row " + std::to_string(b) + " spans [" + std::to_string(lo) + ", " + std::to_string(ends[b]) +
                  "), outside [0, " + std::to_string(L) + "]");
  }
  return backend::call(current_device(), &backend::Backend::sequence_mask, op, L, starts, ends, value, dtype);
}

}  // namespace qkv::ops

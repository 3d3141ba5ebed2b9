// Scaled dot-product attention: the checks, then the device's tiled kernel (backend/cpu_attention.cpp on the CPU).
#include "ops/attention.h"

#include "backend/backend.h"
#include "core/error.h"

namespace qkv::ops {

namespace {

void check_rows(const std::vector<int32_t>& v, int64_t B, int64_t S, const char* what) {
  const char* op = "scaledDotProductAttention";
  if (v.empty()) return;
  if (static_cast<int64_t>(v.size()) != B)
    throw_range(std::string(op) + ": " + what + " must have " + std::to_string(B) + " entries, got " + std::to_string(v.size()));
  for (int32_t len : v)
    if (len < 0 || len > S)
      throw_range(std::string(op) + ": " + what + " entry " + std::to_string(len) + " is outside [0, " + std::to_string(S) + "]");
}

}  // namespace

void check_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const char* op = "scaledDotProductAttention";
  if (!is_float(q.dtype())) throw_type(std::string(op) + ": q must be float32 or float64, got " + dtype_name(q.dtype()));
  if (k.dtype() != q.dtype() || v.dtype() != q.dtype())
    throw_type(std::string(op) + ": q, k and v must have the same dtype, got " + dtype_name(q.dtype()) + ", " + dtype_name(k.dtype()) +
               ", " + dtype_name(v.dtype()));
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4)
    throw_range(std::string(op) + ": q, k and v must be 4-D [B, H, T, D], got " + shape_str(q.shape()) + ", " + shape_str(k.shape()) +
                ", " + shape_str(v.shape()));
  const auto& a = q.shape();
  const auto& b = k.shape();
  const auto& c = v.shape();
  if (b[0] != a[0] || c[0] != a[0] || b[1] != a[1] || c[1] != a[1] || b[3] != a[3] || c[2] != b[2])
    throw_range(std::string(op) + ": shapes do not fit: q " + shape_str(a) + ", k " + shape_str(b) + ", v " + shape_str(c) +
                " (expected q [B, H, T, Dh], k [B, H, S, Dh], v [B, H, S, Dv])");
  check_rows(o.key_lengths, a[0], b[2], "keyLengths");
  check_rows(o.key_starts, a[0], b[2], "keyStarts");
  if (!(o.dropout >= 0 && o.dropout < 1)) throw_range(std::string(op) + ": dropout must be in [0, 1)");
}

bool head_strided(const Tensor& x) {
  if (x.dim() != 4) return false;
  const Shape& st = x.strides();
  // Strides of size-1 dims are never used to address, so they do not count.
  return (st[3] == 1 || x.size(3) == 1) && (st[2] == x.size(3) || x.size(2) == 1);
}

AttentionResult attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const char* op = "scaledDotProductAttention";
  check_attention(q, k, v, o);
  const Device d = backend::common_device({&q, &k, &v}, op);
  const Tensor qc = q.contiguous(), kc = head_strided(k) ? k : k.contiguous(), vc = head_strided(v) ? v : v.contiguous();
  if (q.size(0) * q.size(1) * q.size(2) * v.size(3) == 0)
    return {Tensor::empty({q.size(0), q.size(1), q.size(2), v.size(3)}, q.dtype(), d), Tensor::empty({q.size(0), q.size(1), q.size(2)}, q.dtype(), d)};
  return backend::call(d, &backend::Backend::attention_forward, op, qc, kc, vc, o);
}

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, const Tensor& dout,
                        const AttentionOptions& o, Tensor* dq, Tensor* dk, Tensor* dv) {
  const char* op = "scaledDotProductAttention";
  const Device d = backend::common_device({&q, &k, &v, &out, &lse, &dout}, op);
  backend::call(d, &backend::Backend::attention_backward, op, q.contiguous(), k.contiguous(), v.contiguous(), out, lse, dout.contiguous(), o,
                dq, dk, dv);
}

Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const char* op = "attentionReference";
  check_attention(q, k, v, o);
  return backend::call(backend::common_device({&q, &k, &v}, op), &backend::Backend::attention_reference, op, q.contiguous(),
                       k.contiguous(), v.contiguous(), o);
}

void attention_bias(const AttentionOptions& o, int64_t B, int64_t T, int64_t S, DType dtype, Tensor* bias, Tensor* rows) {
  const char* op = "attentionMask";
  check_rows(o.key_lengths, B, S, "keyLengths");
  check_rows(o.key_starts, B, S, "keyStarts");
  *bias = Tensor::empty({B, 1, T, S}, dtype);
  *rows = Tensor::empty({B, 1, T, 1}, dtype);
  backend::call(bias->device(), &backend::Backend::attention_bias, op, o, B, T, S, bias, rows);
}

}  // namespace qkv::ops

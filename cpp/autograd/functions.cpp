// Backward rules of every differentiable op. Each rule receives the output gradient `g` and returns
// one gradient per input, reduced to that input's shape. Checked against central finite
// differences in float64 by test/autograd.test.ts, which enumerates the op registry.
#include "autograd/functions.h"

#include <cmath>
#include <numeric>

#include "core/error.h"

namespace qkv::ag {

using cpu::BinaryOp;
using cpu::UnaryOp;
using Grads = std::vector<Tensor>;

namespace {

Tensor scalar_like(const Tensor& t, double v) { return Tensor::scalar(v, t.dtype()); }
Tensor mul_(const Tensor& a, const Tensor& b) { return ops::binary(BinaryOp::Mul, a, b); }
Tensor sub_(const Tensor& a, const Tensor& b) { return ops::binary(BinaryOp::Sub, a, b); }
Tensor div_(const Tensor& a, const Tensor& b) { return ops::binary(BinaryOp::Div, a, b); }

std::vector<int64_t> all_axes_if_empty(const std::vector<int64_t>& axes, int64_t nd) {
  if (!axes.empty()) {
    std::vector<int64_t> out;
    for (int64_t a : axes) out.push_back(normalize_axis(a, nd, "backward"));
    return out;
  }
  std::vector<int64_t> all(nd);
  std::iota(all.begin(), all.end(), 0);
  return all;
}

// The gradient of a reduction, broadcast back over the reduced axes.
Tensor expand_reduced(const Tensor& g, const Shape& in_shape, const std::vector<int64_t>& axes, bool keepdims) {
  Shape keep = in_shape;
  for (int64_t a : all_axes_if_empty(axes, static_cast<int64_t>(in_shape.size()))) keep[a] = 1;
  Tensor gk = keepdims ? g : g.reshape(keep, "backward");
  return gk.expand(in_shape, "backward").contiguous();
}

}  // namespace

// ---- views and layout ---------------------------------------------------------------------------

Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor out = x.reshape(shape);
  if (needs_grad({&x})) {
    Shape in = x.shape();
    record(out, OpKind::Reshape, {x}, [in](const Tensor& g) { return Grads{g.reshape(in, "backward")}; });
  }
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor out = x.permute(dims);
  if (needs_grad({&x})) {
    std::vector<int64_t> inv(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) inv[normalize_axis(dims[i], x.dim(), "permute")] = static_cast<int64_t>(i);
    record(out, OpKind::Permute, {x}, [inv](const Tensor& g) { return Grads{g.permute(inv, "backward")}; });
  }
  return out;
}

Tensor transpose(const Tensor& x, int64_t a, int64_t b) {
  std::vector<int64_t> dims(x.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[normalize_axis(a, x.dim(), "transpose")], dims[normalize_axis(b, x.dim(), "transpose")]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end, int64_t step) {
  Tensor out = x.slice(axis, start, end, step);
  if (needs_grad({&x})) {
    Shape in = x.shape();
    DType dt = x.dtype();
    record(out, OpKind::Slice, {x}, [=](const Tensor& g) {
      Tensor dx = Tensor::zeros(in, dt);
      dx.slice(axis, start, end, step, "backward").copy_from(g, "backward");
      return Grads{dx};
    });
  }
  return out;
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = x.contiguous();
  if (needs_grad({&x})) record(out, OpKind::Contiguous, {x}, [](const Tensor& g) { return Grads{g}; });
  return out;
}

Tensor clone(const Tensor& x) {
  Tensor out = x.clone();
  if (needs_grad({&x})) record(out, OpKind::Contiguous, {x}, [](const Tensor& g) { return Grads{g}; });
  return out;
}

Tensor concat(const std::vector<Tensor>& parts, int64_t axis) {
  Tensor out = ops::concat(parts, axis);
  if (needs_grad(parts)) {
    const int64_t ax = normalize_axis(axis, parts[0].dim(), "concat");
    std::vector<int64_t> sizes;
    for (const Tensor& p : parts) sizes.push_back(p.shape()[ax]);
    record(out, OpKind::Concat, parts, [ax, sizes](const Tensor& g) {
      Grads gs;
      int64_t at = 0;
      for (int64_t s : sizes) {
        gs.push_back(g.slice(ax, at, at + s, 1, "backward").contiguous());
        at += s;
      }
      return gs;
    });
  }
  return out;
}

// ---- matmul -------------------------------------------------------------------------------------

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  // 1-D operands are promoted through (differentiable) reshapes, so the rule below is 2-D and up.
  if (a_in.dim() == 1 || b_in.dim() == 1) {
    if (a_in.dim() == 0 || b_in.dim() == 0) return ops::matmul(a_in, b_in);  // throws the shape error
    Tensor a = a_in.dim() == 1 ? reshape(a_in, {1, a_in.size(0)}) : a_in;
    Tensor b = b_in.dim() == 1 ? reshape(b_in, {b_in.size(0), 1}) : b_in;
    Tensor out = matmul(a, b);
    Shape s(out.shape().begin(), out.shape().end() - 2);
    if (a_in.dim() != 1) s.push_back(out.size(-2));
    if (b_in.dim() != 1) s.push_back(out.size(-1));
    return reshape(out, s);
  }
  Tensor out = ops::matmul(a_in, b_in);
  if (needs_grad({&a_in, &b_in})) {
    Tensor a = a_in.detach(), b = b_in.detach();
    const bool ga = a_in.requires_grad(), gb = b_in.requires_grad();
    record(out, OpKind::Matmul, {a_in, b_in}, [a, b, ga, gb](const Tensor& g) {
      Grads gs(2);
      if (ga) gs[0] = sum_to(ops::matmul(g, b.transpose(-1, -2)), a.shape());  // dA = G B^T
      if (gb) gs[1] = sum_to(ops::matmul(a.transpose(-1, -2), g), b.shape());  // dB = A^T G
      return gs;
    });
  }
  return out;
}

// Shapes: x [N, in], weight [out, in], bias [out] -> [N, out]. One GEMM per gradient, each in its
// parameter's layout (ops::linear_backward); checked by finite differences in test/nn.test.ts.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  Tensor out = ops::linear(x, weight, bias);
  if (needs_grad({&x, &weight, &bias})) {
    const bool gx = x.requires_grad(), gw = weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
    const Tensor xd = x.detach(), wd = weight.detach();
    record(out, OpKind::Linear, {x, weight, bias}, [=](const Tensor& g) {
      Grads gs(3);
      ops::linear_backward(xd, wd, g, gx ? &gs[0] : nullptr, gw ? &gs[1] : nullptr, gb ? &gs[2] : nullptr);
      return gs;
    });
  }
  return out;
}

// ---- elementwise --------------------------------------------------------------------------------

static OpKind binary_kind(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return OpKind::Add;
    case BinaryOp::Sub: return OpKind::Sub;
    case BinaryOp::Mul: return OpKind::Mul;
    case BinaryOp::Div: return OpKind::Div;
    case BinaryOp::Pow: return OpKind::Pow;
    case BinaryOp::Maximum: return OpKind::Maximum;
    case BinaryOp::Minimum: return OpKind::Minimum;
    case BinaryOp::Equal: return OpKind::Equal;
  }
  return OpKind::Add;
}

Tensor binary(BinaryOp op, const Tensor& a_in, const Tensor& b_in) {
  Tensor out = ops::binary(op, a_in, b_in);
  if (op == BinaryOp::Equal || !needs_grad({&a_in, &b_in})) return out;
  Tensor a = a_in.detach(), b = b_in.detach(), y = out.detach();
  const bool ga = a_in.requires_grad(), gb = b_in.requires_grad();
  record(out, binary_kind(op), {a_in, b_in}, [=](const Tensor& g) {
    Grads gs(2);
    // Both operands broadcast to the output shape first; sum_to folds the broadcast back.
    Tensor ab = a.expand(y.shape()), bb = b.expand(y.shape());
    Tensor da, db;
    switch (op) {
      case BinaryOp::Add:
        da = g;
        db = g;
        break;
      case BinaryOp::Sub:
        da = g;
        if (gb) db = ops::unary(UnaryOp::Neg, g);
        break;
      case BinaryOp::Mul:
        if (ga) da = mul_(g, bb);
        if (gb) db = mul_(g, ab);
        break;
      case BinaryOp::Div:
        if (ga) da = div_(g, bb);
        if (gb) db = ops::unary(UnaryOp::Neg, div_(mul_(g, y), bb));  // -g a / b^2 = -g y / b
        break;
      case BinaryOp::Pow:
      case BinaryOp::Maximum:
      case BinaryOp::Minimum:  // ties of maximum/minimum split the gradient evenly, as in PyTorch
        if (ga) da = ops::binary_backward(op, ab, bb, y, g, false);
        if (gb) db = ops::binary_backward(op, ab, bb, y, g, true);
        break;
      case BinaryOp::Equal:  // no gradient
        break;
    }
    if (ga) gs[0] = sum_to(da, a.shape());
    if (gb) gs[1] = sum_to(db, b.shape());
    return gs;
  });
  return out;
}

static OpKind unary_kind(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return OpKind::Neg;
    case UnaryOp::Exp: return OpKind::Exp;
    case UnaryOp::Log: return OpKind::Log;
    case UnaryOp::Sqrt: return OpKind::Sqrt;
    case UnaryOp::Tanh: return OpKind::Tanh;
    case UnaryOp::Abs: return OpKind::Abs;
    case UnaryOp::Relu: return OpKind::Relu;
    case UnaryOp::GeluErf: return OpKind::Gelu;
    case UnaryOp::GeluTanh: return OpKind::GeluTanh;
    case UnaryOp::Sigmoid: return OpKind::Sigmoid;
    case UnaryOp::QuickGelu: return OpKind::QuickGelu;
  }
  return OpKind::Neg;
}

Tensor unary(UnaryOp op, const Tensor& x_in) {
  Tensor out = ops::unary(op, x_in);
  if (!needs_grad({&x_in})) return out;
  Tensor x = x_in.contiguous().detach(), y = out.detach();
  record(out, unary_kind(op), {x_in}, [op, x, y](const Tensor& g) { return Grads{ops::unary_backward(op, x, y, g)}; });
  return out;
}

Tensor scale(const Tensor& x, double s) { return binary(BinaryOp::Mul, x, scalar_like(x, s)); }

// ---- reductions ---------------------------------------------------------------------------------

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  Tensor out = ops::sum(x, axes, keepdims);
  if (needs_grad({&x})) {
    Shape in = x.shape();
    record(out, OpKind::Sum, {x}, [=](const Tensor& g) { return Grads{expand_reduced(g, in, axes, keepdims)}; });
  }
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  Tensor out = ops::mean(x, axes, keepdims);
  if (needs_grad({&x})) {
    Shape in = x.shape();
    const double count = out.numel() ? static_cast<double>(x.numel()) / static_cast<double>(out.numel()) : 1.0;
    record(out, OpKind::Mean, {x}, [=](const Tensor& g) {
      return Grads{expand_reduced(ops::binary(BinaryOp::Div, g, Tensor::scalar(count, g.dtype())), in, axes, keepdims)};
    });
  }
  return out;
}

Tensor max(const Tensor& x_in, const std::vector<int64_t>& axes, bool keepdims) {
  Tensor out = ops::max(x_in, axes, keepdims);
  if (needs_grad({&x_in})) {
    Tensor x = x_in.detach(), y = out.detach();
    record(out, OpKind::Max, {x_in}, [=](const Tensor& g) {
      // The gradient goes to the maxima, split evenly among ties.
      Tensor ymax = expand_reduced(y, x.shape(), axes, keepdims);
      Tensor mask = ops::binary(BinaryOp::Equal, x, ymax);
      Tensor count = expand_reduced(ops::sum(mask, axes, keepdims), x.shape(), axes, keepdims);
      return Grads{mul_(expand_reduced(g, x.shape(), axes, keepdims), div_(mask, count))};
    });
  }
  return out;
}

// ---- fused --------------------------------------------------------------------------------------

Tensor softmax(const Tensor& x_in, bool log) {
  Tensor out = ops::softmax(x_in, log);
  if (needs_grad({&x_in})) {
    Tensor y = out.detach();
    record(out, log ? OpKind::LogSoftmax : OpKind::Softmax, {x_in}, [y, log](const Tensor& g) {
      if (log) {  // dx = g - softmax(x) * sum(g)
        Tensor p = ops::unary(UnaryOp::Exp, y);
        return Grads{sub_(g, mul_(p, ops::sum(g, {-1}, true)))};
      }
      // dx = y * (g - sum(g * y))
      return Grads{mul_(y, sub_(g, ops::sum(mul_(g, y), {-1}, true)))};
    });
  }
  return out;
}

// Shapes: x [..., C] viewed as [R, C]; gamma, beta [C]; mean, rstd [R] (saved by the forward pass).
Tensor layer_norm(const Tensor& x_in, const Tensor& gamma_in, const Tensor& beta_in, double eps) {
  const bool track = needs_grad({&x_in, &gamma_in, &beta_in});
  Tensor mean, rstd;
  Tensor out = ops::layer_norm(x_in, gamma_in, beta_in, eps, track ? &mean : nullptr, track ? &rstd : nullptr);
  if (!track) return out;
  Tensor x = x_in.contiguous().detach(), gamma = gamma_in.defined() ? gamma_in.contiguous().detach() : Tensor();
  const bool gx = x_in.requires_grad(), gg = gamma_in.defined() && gamma_in.requires_grad(),
             gb = beta_in.defined() && beta_in.requires_grad();
  record(out, OpKind::LayerNorm, {x_in, gamma_in, beta_in}, [=](const Tensor& g) {
    Tensor dx, dgamma, dbeta;
    ops::layer_norm_backward(x, g, gamma, mean, rstd, gx ? &dx : nullptr, gg ? &dgamma : nullptr, gb ? &dbeta : nullptr);
    return Grads{dx, dgamma, dbeta};
  });
  return out;
}

// Shapes: weight [V, D], ids [...] → out [..., D]. The gradient is dense [V, D] with only the
// rows that were used written.
Tensor embedding(const Tensor& weight, const Tensor& ids_in) {
  Tensor out = ops::embedding(weight, ids_in);
  if (needs_grad({&weight})) {
    Tensor ids = ids_in.contiguous().detach();
    const int64_t V = weight.size(0);
    record(out, OpKind::Embedding, {weight, Tensor()}, [ids, V](const Tensor& g) { return Grads{ops::embedding_backward(ids, g, V), Tensor()}; });
  }
  return out;
}

// Shapes: logits [N, C], targets [N] → scalar. dlogits = (softmax - target distribution) / count.
Tensor cross_entropy(const Tensor& logits_in, const Tensor& targets_in, int64_t ignore_index, double smoothing) {
  Tensor out = ops::cross_entropy(logits_in, targets_in, ignore_index, smoothing);
  if (needs_grad({&logits_in})) {
    Tensor x = logits_in.contiguous().detach(), t = targets_in.contiguous().detach();
    record(out, OpKind::CrossEntropy, {logits_in, Tensor()}, [=](const Tensor& g) {
      return Grads{ops::cross_entropy_backward(x, t, ignore_index, smoothing, g), Tensor()};
    });
  }
  return out;
}

// Shapes: q [B, H, T, Dh], k [B, H, S, Dh], v [B, H, S, Dv]. Backward recomputes the scores from
// the saved log-sum-exp (cpp/ops/attention.cpp); nothing of size T x S is kept.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const ops::AttentionOptions& options) {
  ops::AttentionResult r = ops::attention_forward(q, k, v, options);
  Tensor out = r.out;
  if (needs_grad({&q, &k, &v})) {
    Tensor qd = q.contiguous().detach(), kd = k.contiguous().detach(), vd = v.contiguous().detach();
    Tensor od = r.out.detach(), lse = r.lse;
    record(out, OpKind::Attention, {q, k, v}, [=](const Tensor& g) {
      Tensor dq, dk, dv;
      ops::attention_backward(qd, kd, vd, od, lse, g, options, &dq, &dk, &dv);
      return Grads{dq, dk, dv};
    });
  }
  return out;
}

// ---- dropout and row gathers ----------------------------------------------------------------------

Tensor dropout(const Tensor& y, double p, uint64_t seed) {
  const ops::DropoutLaw law = ops::dropout_law(p, seed, "dropout");
  if (law.threshold == 0) return y;
  Tensor out = ops::dropout(nullptr, y, law);
  if (needs_grad({&y})) record(out, OpKind::Dropout, {y}, [law](const Tensor& g) { return Grads{ops::dropout(nullptr, g, law)}; });
  return out;
}

Tensor add_dropout(const Tensor& x, const Tensor& y, double p, uint64_t seed) {
  const ops::DropoutLaw law = ops::dropout_law(p, seed, "addDropout");
  if (law.threshold == 0) return add(x, y);
  Tensor out = ops::dropout(&x, y, law);
  if (needs_grad({&x, &y})) {
    const bool gx = x.requires_grad(), gy = y.requires_grad();
    record(out, OpKind::Dropout, {x, y}, [law, gx, gy](const Tensor& g) { return Grads{gx ? g : Tensor(), gy ? ops::dropout(nullptr, g, law) : Tensor()}; });
  }
  return out;
}

Tensor index_select(const Tensor& x, const std::vector<int64_t>& idx) {
  Tensor out = ops::index_select(x, idx);
  if (needs_grad({&x})) {
    const Shape shape = x.shape();
    const DType dt = x.dtype();
    record(out, OpKind::IndexSelect, {x}, [shape, dt, idx](const Tensor& g) {
      Tensor dx = Tensor::zeros(shape, dt, g.device());
      ops::index_add(dx, idx, g);
      return Grads{dx};
    });
  }
  return out;
}

// ---- images -------------------------------------------------------------------------------------

// Shapes: x [N, C, H, W], weight [O, C / groups, kH, kW], bias [O] -> [N, O, OH, OW].
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ops::Conv2dOptions& options) {
  Tensor out = ops::conv2d(x, weight, bias, options);
  if (needs_grad({&x, &weight, &bias})) {
    const bool gx = x.requires_grad(), gw = weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
    const Tensor xd = x.detach(), wd = weight.detach();
    record(out, OpKind::Conv2d, {x, weight, bias}, [=](const Tensor& g) {
      Grads gs(3);
      ops::conv2d_backward(xd, wd, g, options, gx ? &gs[0] : nullptr, gw ? &gs[1] : nullptr, gb ? &gs[2] : nullptr);
      return gs;
    });
  }
  return out;
}

// The gradient goes to the saved position of each window's maximum.
Tensor max_pool2d(const Tensor& x, const ops::Window2d& window) {
  const bool track = needs_grad({&x});
  Tensor arg;
  Tensor out = ops::max_pool2d(x, window, track ? &arg : nullptr);
  if (track) {
    const Shape shape = x.shape();
    record(out, OpKind::MaxPool2d, {x}, [arg, shape](const Tensor& g) { return Grads{ops::max_pool2d_backward(g, arg, shape)}; });
  }
  return out;
}

Tensor avg_pool2d(const Tensor& x, const ops::Window2d& window, bool count_include_pad) {
  Tensor out = ops::avg_pool2d(x, window, count_include_pad);
  if (needs_grad({&x})) {
    const Shape shape = x.shape();
    record(out, OpKind::AvgPool2d, {x},
           [=](const Tensor& g) { return Grads{ops::avg_pool2d_backward(g, shape, window, count_include_pad)}; });
  }
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> out_size) {
  Tensor out = ops::adaptive_avg_pool2d(x, out_size);
  if (needs_grad({&x})) {
    const Shape shape = x.shape();
    record(out, OpKind::AdaptiveAvgPool2d, {x}, [shape](const Tensor& g) { return Grads{ops::adaptive_avg_pool2d_backward(g, shape)}; });
  }
  return out;
}

// ---- contrastive ---------------------------------------------------------------------------------

// Shapes: image, text [N, D], scalar log_scale (and bias) → scalar. The backward recomputes the
// logits tile by tile from the saved per-row and per-column log-sum-exps (ops/contrastive.h).
Tensor info_nce(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ops::ContrastiveLoss loss) {
  ops::InfoNCEResult r = ops::info_nce_forward(image, text, log_scale, bias, loss);
  Tensor out = r.loss;
  if (needs_grad({&image, &text, &log_scale, &bias})) {
    Tensor a = image.contiguous().detach(), b = text.contiguous().detach(), t = log_scale.detach();
    Tensor bs = bias.defined() ? bias.detach() : Tensor(), lse = r.lse;
    std::vector<Tensor> inputs{image, text, log_scale};
    if (bias.defined()) inputs.push_back(bias);
    const Shape t_shape = log_scale.shape(), b_shape = bias.defined() ? bias.shape() : Shape{};
    record(out, OpKind::InfoNCE, inputs, [=](const Tensor& g) {
      ops::InfoNCEGrads d = ops::info_nce_backward(a, b, t, bs, loss, lse, g);
      Grads grads{d.image, d.text, d.log_scale.reshape(t_shape, "backward")};
      if (bs.defined()) grads.push_back(d.bias.reshape(b_shape, "backward"));
      return grads;
    });
  }
  return out;
}

}  // namespace qkv::ag

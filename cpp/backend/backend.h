#pragma once
// The op table: what a device must implement. The public ops (ops/ops.h) check their arguments,
// pick the table of their inputs' device and call into it; nothing above this layer reads tensor
// memory. Each device fills one table:
//   cpu      backend/cpu_*.cpp, over the SIMD kernels of cpp/cpu/
//   guarded  backend/guarded.cpp: the CPU's implementations with host access opened around each
//            call, for the test device of core/device.h
//   cuda     backend/cuda.cpp, over the plugin's kernels (cpp/cuda/plugin_api.h); entries the
//            plugin does not provide stay empty and throw Error(Unsupported) naming the op
//
// Arguments arrive checked (shapes, dtypes, ranges that do not depend on the data); outputs are
// allocated by the implementation (Tensor::empty defaults to the running op's device). Inputs may
// be strided views unless an entry says "contiguous".
//
// QKV_BACKEND_OPS(X) lists every entry once as X(name, return type, (parameters)).
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "ops/op_args.h"

namespace qkv::backend {

using ops::AdamStep;
using ops::AttentionOptions;
using ops::AttentionResult;
using ops::AvgBins;
using ops::BinaryOp;
using ops::ContrastiveLoss;
using ops::DropoutLaw;
using ops::InfoNCEGrads;
using ops::InfoNCEResult;
using ops::RandomKind;
using ops::ReduceKind;
using ops::ResizeMode;
using ops::SgdStep;
using ops::UnaryOp;
using ops::Window2d;

#define QKV_BACKEND_OPS(X)                                                                                          \
  /* ---- memory ----------------------------------------------------------------------------------------- */     \
  /* dst (contiguous) = value */                                                                                    \
  X(fill, void, (Tensor & dst, double value))                                                                       \
  /* dst = src: same shape and dtype, any strides on both sides (dst may be a view into a larger tensor) */         \
  X(copy, void, (const Tensor& src, Tensor& dst))                                                                   \
  /* dst = src converted to dst's dtype; both contiguous, same shape */                                             \
  X(cast, void, (const Tensor& src, Tensor& dst))                                                                   \
  /* host <- src (contiguous); dst (contiguous) <- host */                                                          \
  X(to_host, void, (const Tensor& src, void* host))                                                                 \
  X(from_host, void, (const void* host, Tensor& dst))                                                               \
  /* dst (contiguous, float) <- seeded draws; dst <- start + i * step */                                            \
  X(random, void, (Tensor & dst, RandomKind kind, uint64_t seed, double a, double b))                               \
  X(arange, void, (Tensor & dst, double start, double step))                                                        \
  /* rows idx[i] of x along axis 0 -> [n, ...]; dst[idx[i]] += src[i] (dst contiguous) */                          \
  X(index_select, Tensor, (const Tensor& x, const std::vector<int64_t>& idx))                                      \
  X(index_add, void, (Tensor & dst, const std::vector<int64_t>& idx, const Tensor& src))                           \
  /* ---- linear algebra ---------------------------------------------------------------------------------- */     \
  /* [..., M, K] x [..., K, N] -> [..., M, N] (both at least 2-D, batch dims broadcast) */                          \
  X(matmul, Tensor, (const Tensor& a, const Tensor& b, const Shape& batch))                                         \
  /* x [N, in] W[out, in]^T + b [out] (b may be undefined) -> [N, out] */                                            \
  X(linear, Tensor, (const Tensor& x, const Tensor& w, const Tensor& b))                                            \
  /* the gradients of linear for g [N, out]; a null output is not computed */                                       \
  X(linear_backward, void, (const Tensor& x, const Tensor& w, const Tensor& g, Tensor* dx, Tensor* dw, Tensor* db)) \
  /* ---- elementwise ------------------------------------------------------------------------------------- */     \
  /* a (op) b broadcast to out_shape */                                                                             \
  X(binary, Tensor, (BinaryOp op, const Tensor& a, const Tensor& b, const Shape& out_shape))                        \
  X(unary, Tensor, (UnaryOp op, const Tensor& x))                                                                   \
  /* g * d op(x)/dx, given x and y = op(x) */                                                                       \
  X(unary_backward, Tensor, (UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& g))                        \
  /* g * d (a op b)/da (wrt_b false) or /db, for Pow, Maximum and Minimum; a, b, y, g of one shape */              \
  X(binary_backward, Tensor, (BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& y, const Tensor& g, bool wrt_b)) \
  /* (x ?: 0) + y * mask * scale (x, y of one shape) */                                                             \
  X(dropout, Tensor, (const Tensor* x, const Tensor& y, const DropoutLaw& law))                                     \
  /* ---- reductions -------------------------------------------------------------------------------------- */     \
  /* rows [R, C] (contiguous) -> [R] */                                                                             \
  X(reduce_rows, Tensor, (ReduceKind kind, const Tensor& rows))                                                     \
  /* sum of squares of all elements, in double */                                                                   \
  X(sum_squares, double, (const Tensor& x))                                                                         \
  /* ---- fused -------------------------------------------------------------------------------------------- */    \
  /* over the last axis of [..., C] */                                                                              \
  X(softmax, Tensor, (const Tensor& x, bool log))                                                                   \
  X(layer_norm, Tensor, (const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, Tensor* mean, Tensor* rstd)) \
  X(layer_norm_backward, void,                                                                                      \
    (const Tensor& x, const Tensor& g, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, Tensor* dx,     \
     Tensor* dgamma, Tensor* dbeta))                                                                                \
  /* weight [V, D], int32 ids [...] -> [..., D] (ids checked against V); dW [V, D] from g [..., D] */              \
  X(embedding, Tensor, (const Tensor& weight, const Tensor& ids))                                                   \
  X(embedding_backward, Tensor, (const Tensor& ids, const Tensor& g, int64_t V))                                   \
  /* logits [N, C], int32 targets [N] -> mean loss (scalar); dlogits for the scalar output gradient g */          \
  X(cross_entropy, Tensor, (const Tensor& logits, const Tensor& targets, int64_t ignore_index, double smoothing))   \
  X(cross_entropy_backward, Tensor,                                                                                 \
    (const Tensor& logits, const Tensor& targets, int64_t ignore_index, double smoothing, const Tensor& g))        \
  /* q [B, H, T, Dh], k [B, H, S, Dh], v [B, H, S, Dv] (contiguous) */                                              \
  X(attention_forward, AttentionResult, (const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o)) \
  X(attention_backward, void,                                                                                       \
    (const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, const Tensor& dout,   \
     const AttentionOptions& o, Tensor* dq, Tensor* dk, Tensor* dv))                                               \
  X(attention_reference, Tensor, (const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o))   \
  /* masks from per-row lengths: [B, 1, T, S] additive bias (0 or -1e30) and [B, 1, T, 1] row keep (0/1) */         \
  X(attention_bias, void, (const AttentionOptions& o, int64_t B, int64_t T, int64_t S, Tensor* bias, Tensor* rows))  \
  /* [B, L]: weight[b, i] = value for i in [starts[b], ends[b]), else 0 */                                          \
  X(sequence_mask, Tensor,                                                                                          \
    (int64_t L, const std::vector<int32_t>& starts, const std::vector<int32_t>& ends, const std::vector<double>& value, \
     DType dtype))                                                                                                  \
  /* ---- images (NCHW) ----------------------------------------------------------------------------------- */     \
  /* x [N, C, H, W], weight [O, C / groups, kH, kW] (win.kernel), bias [O] or undefined -> [N, O, OH, OW] */      \
  X(conv2d, Tensor, (const Tensor& x, const Tensor& w, const Tensor& b, const Window2d& win, int64_t groups))      \
  X(conv2d_reference, Tensor, (const Tensor& x, const Tensor& w, const Tensor& b, const Window2d& win, int64_t groups)) \
  /* the gradients of conv2d for g [N, O, OH, OW]; a null output is not computed */                                \
  X(conv2d_backward, void,                                                                                          \
    (const Tensor& x, const Tensor& w, const Tensor& g, const Window2d& win, int64_t groups, Tensor* dx, Tensor* dw, \
     Tensor* db))                                                                                                   \
  /* max over windows -> [N, C, OH, OW] and the int32 flat index ih * W + iw of each maximum in *arg */           \
  X(max_pool2d, Tensor, (const Tensor& x, const Window2d& win, Tensor* arg))                                        \
  /* dx [x_shape] with g [N, C, OH, OW] added at the indices of arg */                                              \
  X(max_pool2d_backward, Tensor, (const Tensor& g, const Tensor& arg, const Shape& x_shape))                       \
  /* means over bins -> [N, C, bins.h0.size(), bins.w0.size()]; its gradient for g */                              \
  X(avg_pool2d, Tensor, (const Tensor& x, const AvgBins& bins))                                                     \
  X(avg_pool2d_backward, Tensor, (const Tensor& g, const AvgBins& bins, const Shape& x_shape))                     \
  /* ---- normalisation (backend/cpu_norm.cpp): x [N, C, ...]; mean, rstd receive what normalised ---------- */     \
  /* batch norm per channel: batch statistics when training (biased variance; running_mean/var [C], when        \
     given, updated in place with the unbiased one), else the running ones; mean, rstd [C] */                      \
  X(batch_norm, Tensor,                                                                                             \
    (const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean, Tensor* running_var,          \
     bool training, double momentum, double eps, Tensor* mean, Tensor* rstd))                                       \
  X(batch_norm_backward, void,                                                                                      \
    (const Tensor& x, const Tensor& g, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, bool training,  \
     Tensor* dx, Tensor* dgamma, Tensor* dbeta))                                                                    \
  /* group norm over each of `groups` channel groups of a sample; mean, rstd [N, groups] */                        \
  X(group_norm, Tensor,                                                                                             \
    (const Tensor& x, const Tensor& gamma, const Tensor& beta, int64_t groups, double eps, Tensor* mean, Tensor* rstd)) \
  X(group_norm_backward, void,                                                                                      \
    (const Tensor& x, const Tensor& g, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, int64_t groups, \
     Tensor* dx, Tensor* dgamma, Tensor* dbeta))                                                                    \
  /* ---- image preprocessing (backend/cpu_image.cpp): x [N, C, H, W] -------------------------------------- */     \
  /* resampled to [N, C, out_h, out_w]; int32 input holds 8-bit pixels: the result is rounded to 0..255 */         \
  X(image_resize, Tensor, (const Tensor& x, int64_t out_h, int64_t out_w, ResizeMode mode, bool antialias))         \
  /* (x * scale - mean[c]) / std[c], float32 for int32 input, else x's dtype */                                    \
  X(image_normalize, Tensor, (const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std, double scale)) \
  /* ---- contrastive ----------------------------------------------------------------------------------- */     \
  /* image, text [N, D] (contiguous), scalar log_scale, scalar bias (SigLIP; undefined for CLIP) */               \
  X(info_nce_forward, InfoNCEResult,                                                                                \
    (const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss))   \
  /* the gradients for the scalar output gradient g, recomputing the logits from the saved lse */                  \
  X(info_nce_backward, InfoNCEGrads,                                                                                \
    (const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss,    \
     const Tensor& lse, const Tensor& g))                                                                           \
  /* the explicit N x N logits in double: the loss, and its gradients (for g = 1) into *grads */                    \
  X(info_nce_reference, Tensor,                                                                                     \
    (const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss,    \
     InfoNCEGrads* grads))                                                                                          \
  /* ---- optimizers (in place, all of one shape, contiguous) --------------------------------------------- */     \
  X(adam_step, void, (Tensor & p, const Tensor& g, Tensor& m, Tensor& v, const AdamStep& a))                        \
  X(sgd_step, void, (Tensor & p, const Tensor& g, Tensor* momentum, const SgdStep& a))                              \
  X(scale_inplace, void, (Tensor & x, double c))

// One device's implementations. An empty entry means "not on this device".
struct Backend {
  Device device = Device::CPU;
#define QKV_BACKEND_FIELD(name, ret, params) ret(*name) params = nullptr;
  QKV_BACKEND_OPS(QKV_BACKEND_FIELD)
#undef QKV_BACKEND_FIELD
};

// The table of a device. Error(Unsupported) for a device that has none.
const Backend& backend(Device d);

// The device of an op's inputs (the defined ones): RangeError naming `op` when they differ.
Device common_device(std::initializer_list<const Tensor*> inputs, const char* op);
Device common_device(const std::vector<Tensor>& inputs, const char* op);

// Calls `entry` of the device's table inside a DeviceScope (so that outputs land on that device and,
// for devices the host cannot touch, the implementation may use their pointers); Error(Unsupported)
// naming `op` when the device lacks it.
//   backend::call(d, &Backend::matmul, "matmul", a, b, batch)
template <class Ret, class... Params, class... Args>
Ret call(Device d, Ret (*Backend::*entry)(Params...), const char* op, Args&&... args);

[[noreturn]] void not_on_device(Device d, const char* op);

template <class Ret, class... Params, class... Args>
Ret call(Device d, Ret (*Backend::*entry)(Params...), const char* op, Args&&... args) {
  const Backend& b = backend(d);
  auto fn = b.*entry;
  if (!fn) not_on_device(d, op);
  DeviceScope scope(d);
  return fn(std::forward<Args>(args)...);
}

// The tables. (The CPU's implementations are declared here so that the guarded device can wrap them.)
namespace cpu_impl {
#define QKV_BACKEND_DECL(name, ret, params) ret name params;
QKV_BACKEND_OPS(QKV_BACKEND_DECL)
#undef QKV_BACKEND_DECL
}  // namespace cpu_impl

Backend make_cpu_backend();
Backend make_guarded_backend();
Backend make_cuda_backend();  // the entries whose kernels the loaded plugin provides

}  // namespace qkv::backend

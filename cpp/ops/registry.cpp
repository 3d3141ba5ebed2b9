#include "ops/registry.h"

#include <cstddef>

namespace qkv {

namespace {
constexpr OpInfo kOps[] = {
    {OpKind::Reshape, "reshape", 1, true},
    {OpKind::Permute, "permute", 1, true},
    {OpKind::Slice, "slice", 1, true},
    {OpKind::Contiguous, "contiguous", 1, true},
    {OpKind::Concat, "concat", -1, true},
    {OpKind::Matmul, "matmul", 2, true},
    {OpKind::Linear, "linear", 3, true},
    {OpKind::Add, "add", 2, true},
    {OpKind::Sub, "sub", 2, true},
    {OpKind::Mul, "mul", 2, true},
    {OpKind::Div, "div", 2, true},
    {OpKind::Pow, "pow", 2, true},
    {OpKind::Maximum, "maximum", 2, true},
    {OpKind::Minimum, "minimum", 2, true},
    {OpKind::Equal, "equal", 2, false},
    {OpKind::Neg, "neg", 1, true},
    {OpKind::Exp, "exp", 1, true},
    {OpKind::Log, "log", 1, true},
    {OpKind::Sqrt, "sqrt", 1, true},
    {OpKind::Tanh, "tanh", 1, true},
    {OpKind::Abs, "abs", 1, true},
    {OpKind::Relu, "relu", 1, true},
    {OpKind::Gelu, "gelu", 1, true},
    {OpKind::GeluTanh, "geluTanh", 1, true},
    {OpKind::Sigmoid, "sigmoid", 1, true},
    {OpKind::QuickGelu, "quickGelu", 1, true},
    {OpKind::Sum, "sum", 1, true},
    {OpKind::Mean, "mean", 1, true},
    {OpKind::Max, "max", 1, true},
    {OpKind::Argmax, "argmax", 1, false},
    {OpKind::Softmax, "softmax", 1, true},
    {OpKind::LogSoftmax, "logSoftmax", 1, true},
    {OpKind::LayerNorm, "layerNorm", 3, true},
    {OpKind::Embedding, "embedding", 2, true},
    {OpKind::CrossEntropy, "crossEntropy", 2, true},
    {OpKind::Attention, "scaledDotProductAttention", 3, true},
    {OpKind::Dropout, "dropout", 2, true},
    {OpKind::IndexSelect, "indexSelect", 1, true},
    // ---- images
    {OpKind::Conv2d, "conv2d", 3, true},
    {OpKind::MaxPool2d, "maxPool2d", 1, true},
    {OpKind::AvgPool2d, "avgPool2d", 1, true},
    {OpKind::AdaptiveAvgPool2d, "adaptiveAvgPool2d", 1, true},
    // ---- normalisation
    {OpKind::BatchNorm, "batchNorm", 3, true},
    {OpKind::GroupNorm, "groupNorm", 3, true},
    // image, text, logScale (+ bias for SigLIP)
    {OpKind::InfoNCE, "infoNCE", -1, true},
};
static_assert(sizeof(kOps) / sizeof(kOps[0]) == static_cast<size_t>(OpKind::Count),
              "every OpKind needs a row in the registry");

constexpr bool rows_in_order() {
  for (size_t i = 0; i < sizeof(kOps) / sizeof(kOps[0]); ++i)
    if (static_cast<size_t>(kOps[i].kind) != i) return false;
  return true;
}
static_assert(rows_in_order(), "registry rows must follow the OpKind order");
}  // namespace

const OpInfo& op_info(OpKind kind) { return kOps[static_cast<size_t>(kind)]; }

}  // namespace qkv

#pragma once
// The op registry: every differentiable op is listed once, here. The CPU backend, the future CUDA
// backend and the test suites (reference checks, gradient checks) all enumerate this table, so an
// op cannot be added without the tests noticing (ggml's habit). Adding an op: add the enum entry,
// its row in registry.cpp (the static_assert keeps the two in step), and a test case in test/.
#include <cstdint>

namespace qkv {

enum class OpKind : uint16_t {
  // views and layout
  Reshape, Permute, Slice, Contiguous, Concat,
  // linear algebra
  Matmul, Linear,
  // elementwise binary with broadcasting
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, Equal,
  // elementwise unary
  Neg, Exp, Log, Sqrt, Tanh, Abs, Relu, Gelu, GeluTanh, Sigmoid, QuickGelu,
  // reductions
  Sum, Mean, Max, Argmax,
  // fused
  Softmax, LogSoftmax, LayerNorm, Embedding, CrossEntropy, Attention, Dropout, IndexSelect,
  // images (NCHW)
  Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
  // normalisation
  BatchNorm, GroupNorm,
  // contrastive
  InfoNCE,
  Count
};

struct OpInfo {
  OpKind kind;
  const char* name;           // the JavaScript function name on `qkv`
  int inputs;                 // tensor inputs (-1: variadic)
  bool differentiable;        // has (or will have) a backward
};

const OpInfo& op_info(OpKind kind);
constexpr int op_count() { return static_cast<int>(OpKind::Count); }

}  // namespace qkv

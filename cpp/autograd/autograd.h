#pragma once
// Reverse-mode autograd. A differentiable op (qkv::ag) that sees an input requiring gradients
// records a Node on its output: the inputs to propagate to and a backward function from the
// output's gradient to theirs. backward() walks the recorded graph in reverse topological order,
// accumulates into the leaves' `grad`, and frees the graph (unless asked to retain it).
//
// Saved tensors inside backward functions are always detached (no autograd state), so a graph
// never holds a reference cycle through an output.
#include <functional>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "ops/registry.h"

namespace qkv {

struct Node;

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;                    // accumulated gradient (leaves, and non-leaves that retain it)
  std::shared_ptr<Node> grad_fn;  // null for leaves
};

struct Node {
  OpKind op;
  std::vector<Tensor> inputs;  // as given to the op (their autograd state is the graph's edges)
  // grad of the output → one gradient per input (undefined where an input needs none), each
  // already reduced to that input's shape.
  std::function<std::vector<Tensor>(const Tensor&)> backward;
  bool freed = false;
};

// Gradient recording is on by default and per thread; NoGradGuard turns it off in a scope.
bool grad_enabled();
void set_grad_enabled(bool enabled);
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

void set_requires_grad(Tensor& t, bool value);  // leaves only; RangeError for a float-less dtype
Tensor grad_of(const Tensor& t);                // undefined when none
void set_grad(Tensor& t, const Tensor& g);      // replaces (undefined clears)
bool is_leaf(const Tensor& t);
const char* grad_fn_name(const Tensor& t);      // the op that made t, or "" for leaves

// True when recording is on and some input requires gradients.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);
// Makes `out` the output of a recorded node.
void record(Tensor& out, OpKind op, std::vector<Tensor> inputs, std::function<std::vector<Tensor>(const Tensor&)> backward);

// Runs backpropagation from `root`. `grad` defaults to 1 for a one-element root.
// refuse_busy: throw ERR_BUSY, before any gradient is accumulated, when a leaf of the graph is busy
// (Storage::busy): a JavaScript backward() must not race a job that owns those gradients.
void backward(const Tensor& root, const Tensor& grad, bool retain_graph, bool refuse_busy = false);

// Sums `g` down to `shape` (undoing broadcasting).
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace qkv

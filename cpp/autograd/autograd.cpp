#include "autograd/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "ops/ops.h"

namespace qkv {

namespace {
thread_local bool t_grad_enabled = true;
}

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool enabled) { t_grad_enabled = enabled; }

bool Tensor::requires_grad() const { return meta_ && meta_->requires_grad; }

void set_requires_grad(Tensor& t, bool value) {
  if (value && !is_float(t.dtype()))
    throw_type(std::string("requiresGrad: only float32 and float64 tensors can require gradients, got ") + dtype_name(t.dtype()));
  if (!t.autograd()) {
    if (!value) return;
    t.autograd() = std::make_shared<AutogradMeta>();
  }
  if (t.autograd()->grad_fn && !value)
    throw_range("requiresGrad: cannot turn off gradients of a non-leaf tensor (made by " +
                std::string(op_info(t.autograd()->grad_fn->op).name) + "); use detach()");
  t.autograd()->requires_grad = value;
}

Tensor grad_of(const Tensor& t) { return t.autograd() ? t.autograd()->grad : Tensor(); }

void set_grad(Tensor& t, const Tensor& g) {
  if (!t.autograd()) t.autograd() = std::make_shared<AutogradMeta>();
  if (g.defined() && (g.shape() != t.shape() || g.dtype() != t.dtype()))
    throw_range("grad: the gradient must have shape " + shape_str(t.shape()) + " and dtype " + dtype_name(t.dtype()) +
                ", got " + shape_str(g.shape()) + " " + dtype_name(g.dtype()));
  t.autograd()->grad = g.defined() ? g.detach() : Tensor();
}

bool is_leaf(const Tensor& t) { return !t.autograd() || !t.autograd()->grad_fn; }

const char* grad_fn_name(const Tensor& t) {
  return t.autograd() && t.autograd()->grad_fn ? op_info(t.autograd()->grad_fn->op).name : "";
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(Tensor& out, OpKind op, std::vector<Tensor> inputs, std::function<std::vector<Tensor>(const Tensor&)> backward) {
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  auto meta = std::make_shared<AutogradMeta>();
  meta->requires_grad = true;
  meta->grad_fn = std::move(node);
  out.autograd() = std::move(meta);
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> axes;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)) axes.push_back(d);
  Tensor s = axes.empty() ? g : ops::sum(g, axes, true);
  return s.reshape(shape, "backward");
}

void backward(const Tensor& root, const Tensor& grad_in, bool retain_graph, bool refuse_busy) {
  if (!root.requires_grad())
    throw_range("backward: the tensor does not require gradients (no input had requiresGrad, or it was made under noGrad)");
  Tensor seed = grad_in;
  if (!seed.defined()) {
    if (root.numel() != 1)
      throw_range("backward: a gradient must be given for a non-scalar tensor of shape " + shape_str(root.shape()));
    seed = Tensor::full(root.shape(), root.dtype(), 1.0);
  } else if (seed.shape() != root.shape() || seed.dtype() != root.dtype()) {
    throw_range("backward: the gradient has shape " + shape_str(seed.shape()) + " " + dtype_name(seed.dtype()) +
                ", the tensor " + shape_str(root.shape()) + " " + dtype_name(root.dtype()));
  }
  auto check_leaf = [refuse_busy](const Tensor& t) {
    if (refuse_busy && !t.autograd()->grad_fn && t.busy())
      throw Error(ErrorKind::Busy, "backward: the graph reaches a parameter of a model in use by a running job; await it first");
  };
  check_leaf(root);
  NoGradGuard no_grad;

  // Reverse topological order of the graph's metas (iterative DFS: graphs can be deep).
  std::vector<AutogradMeta*> order;
  std::unordered_map<AutogradMeta*, Tensor> grads;
  std::unordered_map<AutogradMeta*, std::shared_ptr<AutogradMeta>> keep;  // metas stay alive while we walk
  {
    std::unordered_set<AutogradMeta*> visited;
    std::vector<std::pair<std::shared_ptr<AutogradMeta>, size_t>> stack;
    stack.push_back({root.autograd(), 0});
    visited.insert(root.autograd().get());
    while (!stack.empty()) {
      auto& [meta, next] = stack.back();
      Node* node = meta->grad_fn.get();
      if (node && node->freed)
        throw_range(std::string("backward: the graph through ") + op_info(node->op).name +
                    " was already freed by an earlier backward(); pass retainGraph: true to backpropagate twice");
      if (node && next < node->inputs.size()) {
        const Tensor& in = node->inputs[next++];
        if (in.defined() && in.requires_grad() && visited.insert(in.autograd().get()).second) {
          check_leaf(in);
          stack.push_back({in.autograd(), 0});
        }
        continue;
      }
      keep[meta.get()] = meta;
      order.push_back(meta.get());
      stack.pop_back();
    }
  }
  grads[root.autograd().get()] = seed.detach();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    AutogradMeta* meta = *it;
    auto found = grads.find(meta);
    if (found == grads.end()) continue;
    Tensor g = found->second;
    grads.erase(found);
    Node* node = meta->grad_fn.get();
    if (!node) {  // a leaf: accumulate
      meta->grad = meta->grad.defined() ? ops::binary(cpu::BinaryOp::Add, meta->grad, g) : g.contiguous().clone();
      continue;
    }
    std::vector<Tensor> in_grads = node->backward(g);
    for (size_t i = 0; i < node->inputs.size() && i < in_grads.size(); ++i) {
      const Tensor& in = node->inputs[i];
      if (!in.defined() || !in.requires_grad() || !in_grads[i].defined()) continue;
      if (in_grads[i].shape() != in.shape())
        throw Error(ErrorKind::Internal, std::string("backward of ") + op_info(node->op).name + " gave a gradient of shape " +
                                             shape_str(in_grads[i].shape()) + " for an input of shape " + shape_str(in.shape()));
      AutogradMeta* im = in.autograd().get();
      auto& slot = grads[im];
      slot = slot.defined() ? ops::binary(cpu::BinaryOp::Add, slot, in_grads[i]) : in_grads[i];
    }
    if (!retain_graph) {
      node->backward = nullptr;
      node->inputs.clear();
      node->freed = true;
    }
  }
}

}  // namespace qkv

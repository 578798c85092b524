#pragma once
// Reverse-mode automatic differentiation.
//
// Every result of a differentiable op that sees an input requiring grad gets a
// Node: the op's name, edges to where its inputs' gradients go, and the
// op's gradient rule (a closure holding what the forward saved). backward()
// walks the nodes in reverse topological order (engine.cpp), calls each rule
// once with the summed gradient of its output, and accumulates into leaves.
//
// An op defines itself in one place, forward and backward together:
//
//   Tensor exp(const Tensor& x) {
//     Tensor y = ...forward kernel...;
//     if (needs_grad(x))
//       attach(y, "exp", {x}, [y = y.detach()](const Tensor& g) -> Grads { return {g * y}; });
//     return y;
//   }
//
// Gradient rules run with grad mode off, so they may use any op freely.
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/anomaly.h"
#include "core/tensor.h"

namespace nl {

// One gradient per input of the node, in order; undefined = no gradient.
using Grads = std::vector<Tensor>;

// Where the gradient for one input goes: the node that produced it, or the
// leaf tensor that accumulates it. Both null: the input needs no gradient.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  bool needed() const { return node || leaf; }
};

class Node {
 public:
  Node(const char* name, std::vector<Edge> next, const Shape& shape, DType dtype)
      : name_(name), next_(std::move(next)), shape_(shape), dtype_(dtype) {}
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const char* name() const { return name_; }
  const std::vector<Edge>& next() const { return next_; }
  const Shape& shape() const { return shape_; }  // of the output
  DType dtype() const { return dtype_; }
  bool released() const { return released_; }
  // Whether input i needs a gradient (lets rules skip work).
  bool needs_input_grad(size_t i) const { return i < next_.size() && next_[i].needed(); }

  // Runs the gradient rule; throws if the graph was already freed.
  Grads apply(const Tensor& grad);
  // Frees saved tensors (after a backward() without retain_graph).
  void release();

  std::vector<GradHook>& hooks() { return hooks_; }

  // The tensors the gradient rule holds for backward (saved by the forward);
  // empty once released. For inspection (to_dot), not for the hot path.
  virtual std::vector<Tensor> saved_tensors() const = 0;

 protected:
  virtual Grads run(const Tensor& grad) = 0;
  virtual void free_saved() = 0;

 private:
  friend class Engine;
  const char* name_;
  std::vector<Edge> next_;
  Shape shape_;
  DType dtype_;
  bool released_ = false;
  std::vector<GradHook> hooks_;  // hooks registered on the (non-leaf) output

  // scratch for the engine during one backward()
  Tensor grad_sum_;
  bool grad_owned_ = false;
  int dependencies_ = 0;
  uint64_t visit_mark_ = 0;
};

namespace detail {
// The Tensors copy-constructed while fn() runs on this thread (tensor.h's probe).
std::vector<Tensor> tensors_copied_by(const std::function<void()>& fn);
}  // namespace detail

// A node whose gradient rule is a closure; one allocation holds both.
template <typename Rule>
class RuleNode final : public Node {
 public:
  RuleNode(const char* name, std::vector<Edge> next, const Shape& shape, DType dtype, Rule rule)
      : Node(name, std::move(next), shape, dtype), rule_(std::move(rule)) {}

  // A closure's captures cannot be listed, but copying it copies each
  // captured Tensor once, and the copy probe (core/tensor.h) sees exactly those.
  std::vector<Tensor> saved_tensors() const override {
    if constexpr (std::is_copy_constructible_v<Rule>) {
      if (rule_) return detail::tensors_copied_by([this] { Rule copy(*rule_); });
    }
    return {};
  }

 protected:
  Grads run(const Tensor& grad) override { return (*rule_)(grad); }
  void free_saved() override { rule_.reset(); }

 private:
  std::optional<Rule> rule_;
};

// ---- grad mode -----------------------------------------------------------------------
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// While alive, no op records a graph (like torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any input requires grad.
inline bool needs_grad(const Tensor& a) { return is_grad_enabled() && a.defined() && a.requires_grad(); }
template <typename... Rest>
bool needs_grad(const Tensor& a, const Rest&... rest) {
  return needs_grad(a) || (needs_grad(rest) || ...);
}
inline bool needs_grad(const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs)
    if (needs_grad(t)) return true;
  return false;
}

Edge edge_to(const Tensor& input);
void set_grad_fn(const Tensor& output, std::shared_ptr<Node> node);

// Links output into the graph: its node records op name, edges to the inputs,
// and the gradient rule `rule(grad_output) -> Grads` (one entry per input).
template <typename Rule>
void attach(const Tensor& output, const char* op, const std::vector<Tensor>& inputs, Rule rule) {
  if (detail::anomaly_enabled) [[unlikely]] detail::check_forward_anomaly(op, output, inputs);
  std::vector<Edge> next;
  next.reserve(inputs.size());
  for (const Tensor& t : inputs) next.push_back(edge_to(t));
  set_grad_fn(output, std::make_shared<RuleNode<Rule>>(op, std::move(next), output.shape(),
                                                        output.dtype(), std::move(rule)));
}

// A number identifying the backward() running on this thread (0 outside one);
// lets a rule keep per-backward state, as unbind does.
uint64_t current_backward_id();

// The engine; Tensor::backward calls it.
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

}  // namespace nl

#pragma once
// Reverse-mode automatic differentiation.
//
// Every result of a differentiable op that sees an input requiring grad gets a
// Node: the op's name, edges to where its inputs' gradients go, the tensors
// the forward saved for the backward, and the op's gradient rule. backward()
// walks the nodes in reverse topological order (engine.cpp), calls each rule
// once with the summed gradient of its output, and accumulates into leaves.
//
// An op defines itself in one place, forward and backward together:
//
//   Tensor exp(const Tensor& x) {
//     Tensor y = ...forward kernel...;
//     if (needs_grad(x))
//       attach(y, "exp", {x}, save(y), [](const Tensor& g, const Tensor& y) -> Grads { return {g * y}; });
//     return y;
//   }
//
// save(...) names the tensors the rule needs, as PyTorch's
// ctx.save_for_backward: the node holds them, lists them (saved_tensors(),
// for to_dot), frees them when backward() releases the graph, and passes them
// to the rule after the gradient, in the order given. Undefined tensors may
// be saved (an absent weight). Everything else the rule needs (shapes, flags,
// eps) it captures by value; a rule that saves no tensor omits save():
//
//   attach(y, "neg", {x}, [](const Tensor& g) -> Grads { return {neg(g)}; });
//
// Gradient rules run with grad mode off, so they may use any op freely.
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
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
template <size_t>
using TensorArg = const Tensor&;
// Whether rule(t_0, ..., t_n−1) with n const Tensor& returns Grads.
template <typename Rule, size_t... I>
constexpr bool takes_tensors(std::index_sequence<I...>) {
  return std::is_invocable_r_v<Grads, Rule&, TensorArg<I>...>;
}
}  // namespace detail

// The tensors a gradient rule needs, as save(...) names them (see the top).
template <size_t K>
struct Saved {
  std::array<Tensor, K> tensors;
};

template <typename... Tensors>
  requires(std::is_same_v<Tensors, Tensor> && ...)
Saved<sizeof...(Tensors)> save(const Tensors&... tensors) {
  return {{tensors...}};
}

// A node whose gradient rule is a closure; one allocation holds the node, the
// K saved tensors and the rule.
template <typename Rule, size_t K>
class RuleNode final : public Node {
 public:
  RuleNode(const char* name, std::vector<Edge> next, const Shape& shape, DType dtype, std::array<Tensor, K> saved,
           Rule rule)
      : Node(name, std::move(next), shape, dtype), saved_(std::move(saved)), rule_(std::move(rule)) {}

  std::vector<Tensor> saved_tensors() const override {
    std::vector<Tensor> out;
    for (const Tensor& t : saved_)
      if (t.defined()) out.push_back(t);
    return out;
  }

 protected:
  // rule(grad, saved[0], ..., saved[K-1])
  Grads run(const Tensor& grad) override {
    return [&]<size_t... I>(std::index_sequence<I...>) {
      return (*rule_)(grad, saved_[I]...);
    }(std::make_index_sequence<K>());
  }
  void free_saved() override {
    saved_ = {};
    rule_.reset();  // and what the closure holds
  }

 private:
  std::array<Tensor, K> saved_;
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

// Links output into the graph: its node records op name, edges to the
// inputs, the saved tensors and the gradient rule
// `rule(grad_output, saved...) -> Grads` (one entry per input).
template <size_t K, typename Rule>
void attach(const Tensor& output, const char* op, const std::vector<Tensor>& inputs, Saved<K> saved, Rule rule) {
  static_assert(detail::takes_tensors<Rule>(std::make_index_sequence<1 + K>()),
                "attach: the rule must take the gradient and then each saved tensor as const Tensor&, and return Grads");
  if (detail::anomaly_enabled) [[unlikely]] detail::check_forward_anomaly(op, output, inputs);
  std::vector<Edge> next;
  next.reserve(inputs.size());
  for (const Tensor& t : inputs) next.push_back(edge_to(t));
  // A saved tensor that is in the graph is held detached: the output would
  // otherwise own its own node (a cycle never freed), an input its whole graph.
  for (Tensor& t : saved.tensors)
    if (t.defined() && (t.requires_grad() || t.is_same(output))) t = t.detach();
  set_grad_fn(output, std::make_shared<RuleNode<Rule, K>>(op, std::move(next), output.shape(), output.dtype(),
                                                          std::move(saved.tensors), std::move(rule)));
}

// The same for a rule that saves no tensor: `rule(grad_output) -> Grads`.
template <typename Rule>
void attach(const Tensor& output, const char* op, const std::vector<Tensor>& inputs, Rule rule) {
  attach(output, op, inputs, Saved<0>{}, std::move(rule));
}

// A number identifying the backward() running on this thread (0 outside one);
// lets a rule keep per-backward state, as unbind does.
uint64_t current_backward_id();

// The engine; Tensor::backward calls it.
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

}  // namespace nl

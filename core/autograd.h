#pragma once
// Reverse-mode automatic differentiation.
//
// Every result of a differentiable op that sees an input requiring grad gets a
// Node: the op's name, edges to where its inputs' gradients go, the tensors
// the forward saved for the backward, and the op's gradient rule. backward()
// walks the nodes in reverse topological order (engine.cpp), calls each rule
// once with the summed gradient of each of its outputs, and accumulates into
// leaves.
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
// An op with several outputs attaches them together, as one node; its rule
// takes one gradient per output, then the saved tensors. An output that no
// gradient reached gets zeros (as PyTorch materializes them), so a rule need
// not test for absent gradients:
//
//   attach({h, c}, "lstm_cell", {gates, c_prev}, save(gates, c_prev, c),
//          [](const Tensor& dh, const Tensor& dc, const Tensor& gates, const Tensor& c_prev, const Tensor& c)
//              -> Grads { ... });
//
// Gradient rules run with grad mode off, so they may use any op freely.
#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/anomaly.h"
#include "core/tensor.h"

namespace nl {

// One gradient per input of the node, in order; undefined = no gradient.
using Grads = std::vector<Tensor>;

// Where the gradient for one input goes: output `output` of the node that
// produced it, or the leaf tensor that accumulates it. Both null: the input
// needs no gradient.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  uint32_t output = 0;  // which of node's outputs the input is
  bool needed() const { return node || leaf; }
};

// One output of a node: its shape and dtype, the hooks registered on it, and
// the engine's running sum of its gradient during one backward().
struct NodeOutput {
  Shape shape;
  DType dtype = DType::float32;
  std::vector<GradHook> hooks;
  Tensor grad_sum;  // scratch for the engine
  bool grad_owned = false;
};

// The most outputs one node may have (lstm_sequence has three).
inline constexpr size_t kMaxNodeOutputs = 4;

class Node {
 public:
  Node(const char* name, std::vector<Edge> next) : name_(name), next_(std::move(next)) {}
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const char* name() const { return name_; }
  const std::vector<Edge>& next() const { return next_; }
  size_t num_outputs() const { return outputs_.size(); }
  const Shape& shape(size_t output = 0) const { return outputs_[output].shape; }
  DType dtype(size_t output = 0) const { return outputs_[output].dtype; }
  bool released() const { return released_; }
  // Whether input i needs a gradient (lets rules skip work).
  bool needs_input_grad(size_t i) const { return i < next_.size() && next_[i].needed(); }

  // Runs the gradient rule on one gradient per output; throws if the graph
  // was already freed.
  Grads apply(std::span<const Tensor> grads);
  // Frees saved tensors (after a backward() without retain_graph).
  void release();

  // Hooks registered on output `output` (a non-leaf tensor).
  std::vector<GradHook>& hooks(size_t output = 0) { return outputs_[output].hooks; }

  // The tensors the gradient rule holds for backward (saved by the forward);
  // empty once released. For inspection (to_dot), not for the hot path.
  virtual std::vector<Tensor> saved_tensors() const = 0;

 protected:
  virtual Grads run(std::span<const Tensor> grads) = 0;
  virtual void free_saved() = 0;
  // The derived node holds its outputs (so a node stays one allocation) and
  // hands them over here, from its constructor.
  void set_outputs(std::span<NodeOutput> outputs) { outputs_ = outputs; }

 private:
  friend class Engine;
  void check_not_released() const;

  const char* name_;
  std::vector<Edge> next_;
  std::span<NodeOutput> outputs_;
  bool released_ = false;

  // scratch for the engine during one backward()
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
requires(std::is_same_v<Tensors, Tensor>&&...) Saved<sizeof...(Tensors)> save(const Tensors&... tensors) {
  return {{tensors...}};
}

// A node whose gradient rule is a closure; one allocation holds the node, its
// kOutputs outputs, the K saved tensors and the rule.
template <typename Rule, size_t kOutputs, size_t K>
class RuleNode final : public Node {
 public:
  RuleNode(const char* name, std::vector<Edge> next, std::array<NodeOutput, kOutputs> outputs,
           std::array<Tensor, K> saved, Rule rule)
      : Node(name, std::move(next)), outputs_(std::move(outputs)), saved_(std::move(saved)), rule_(std::move(rule)) {
    set_outputs(outputs_);
  }

  std::vector<Tensor> saved_tensors() const override {
    std::vector<Tensor> out;
    for (const Tensor& t : saved_)
      if (t.defined()) out.push_back(t);
    return out;
  }

 protected:
  // rule(grads[0], ..., grads[kOutputs-1], saved[0], ..., saved[K-1])
  Grads run(std::span<const Tensor> grads) override {
    return [&]<size_t... G, size_t... S>(std::index_sequence<G...>, std::index_sequence<S...>) {
      return (*rule_)(grads[G]..., saved_[S]...);
    }
    (std::make_index_sequence<kOutputs>(), std::make_index_sequence<K>());
  }
  void free_saved() override {
    saved_ = {};
    rule_.reset();  // and what the closure holds
  }

 private:
  std::array<NodeOutput, kOutputs> outputs_;
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
// Makes node the grad_fn of output, as its output number `output`.
void set_grad_fn(const Tensor& output, std::shared_ptr<Node> node, uint32_t output_nr = 0);

namespace detail {
// attach() for outputs[0..kOutputs): see the four forms below.
template <size_t kOutputs, size_t K, typename Rule>
void attach_node(const Tensor* outputs, const char* op, const std::vector<Tensor>& inputs, std::array<Tensor, K> saved,
                 Rule rule) {
  static_assert(kOutputs >= 1 && kOutputs <= kMaxNodeOutputs, "attach: a node has 1 to kMaxNodeOutputs outputs");
  static_assert(takes_tensors<Rule>(std::make_index_sequence<kOutputs + K>()),
                "attach: the rule must take one gradient per output and then each saved tensor, all as "
                "const Tensor&, and return Grads");
  if (anomaly_enabled) [[unlikely]]
    for (size_t k = 0; k < kOutputs; ++k) check_forward_anomaly(op, outputs[k], inputs);
  std::vector<Edge> next;
  next.reserve(inputs.size());
  for (const Tensor& t : inputs) next.push_back(edge_to(t));
  // A saved tensor that is in the graph is held detached: an output would
  // otherwise own its own node (a cycle never freed), an input its whole graph.
  for (Tensor& t : saved) {
    bool is_output = false;
    for (size_t k = 0; k < kOutputs; ++k) is_output = is_output || t.is_same(outputs[k]);
    if (t.defined() && (t.requires_grad() || is_output)) t = t.detach();
  }
  std::array<NodeOutput, kOutputs> slots;
  for (size_t k = 0; k < kOutputs; ++k) {
    slots[k].shape = outputs[k].shape();
    slots[k].dtype = outputs[k].dtype();
  }
  auto node = std::make_shared<RuleNode<Rule, kOutputs, K>>(op, std::move(next), std::move(slots), std::move(saved),
                                                            std::move(rule));
  for (size_t k = 0; k + 1 < kOutputs; ++k) set_grad_fn(outputs[k], node, uint32_t(k));
  set_grad_fn(outputs[kOutputs - 1], std::move(node), uint32_t(kOutputs - 1));
}
}  // namespace detail

// Links output into the graph: its node records op name, edges to the
// inputs, the saved tensors and the gradient rule
// `rule(grad_output, saved...) -> Grads` (one entry per input).
template <size_t K, typename Rule>
void attach(const Tensor& output, const char* op, const std::vector<Tensor>& inputs, Saved<K> saved, Rule rule) {
  detail::attach_node<1>(&output, op, inputs, std::move(saved.tensors), std::move(rule));
}

// The same for a rule that saves no tensor: `rule(grad_output) -> Grads`.
template <typename Rule>
void attach(const Tensor& output, const char* op, const std::vector<Tensor>& inputs, Rule rule) {
  detail::attach_node<1>(&output, op, inputs, std::array<Tensor, 0>{}, std::move(rule));
}

// Several outputs of one node, attach({h, c}, ...):
// `rule(grad_output_0, ..., grad_output_n−1, saved...) -> Grads`.
template <size_t kOutputs, size_t K, typename Rule>
void attach(const Tensor (&outputs)[kOutputs], const char* op, const std::vector<Tensor>& inputs, Saved<K> saved,
            Rule rule) {
  detail::attach_node<kOutputs>(outputs, op, inputs, std::move(saved.tensors), std::move(rule));
}
template <size_t kOutputs, typename Rule>
void attach(const Tensor (&outputs)[kOutputs], const char* op, const std::vector<Tensor>& inputs, Rule rule) {
  detail::attach_node<kOutputs>(outputs, op, inputs, std::array<Tensor, 0>{}, std::move(rule));
}

// A number identifying the backward() running on this thread (0 outside one);
// lets a rule keep per-backward state, as unbind does.
uint64_t current_backward_id();

// The engine; Tensor::backward calls it.
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

}  // namespace nl

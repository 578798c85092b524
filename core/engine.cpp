// The autograd engine: a topological walk over the graph behind a tensor.
//
// 1. Count, for every node reachable from the root, how many edges point at
//    it from other reachable nodes (its consumers).
// 2. Start with the root's node holding the seed gradient. A node is ready
//    once all its consumers have passed their gradient to it (Kahn's
//    algorithm); the gradient of each of its outputs is then complete, so its
//    rule runs exactly once (outputs no gradient reached get zeros).
// 3. A rule's results go to input nodes (summed per output of that node:
//    an edge names the output its input was) or to leaves. A leaf's
//    gradients are summed over all its edges first; then its hooks run once
//    on the sum and the sum is added into .grad() (as PyTorch's AccumulateGrad).
//    If a rule or hook throws, no .grad() has been touched and the per-node
//    scratch is reset on the next backward().
#include <array>
#include <atomic>
#include <unordered_map>
#include <utility>

#include "core/autograd.h"
#include "core/ops.h"

namespace nl {

namespace {
thread_local bool grad_enabled = true;
std::atomic<uint64_t> backward_counter{0};
thread_local uint64_t running_backward = 0;  // the id of the backward() this thread is in, 0 outside

// Adds g into an accumulator. The first gradient is stored as is (no copy);
// the second creates a fresh sum that the accumulator owns, so later ones add
// in place.
void accumulate(Tensor& sum, bool& owned, const Tensor& g) {
  if (!sum.defined()) {
    sum = g;
    owned = false;
  } else if (!owned) {
    sum = sum + g;
    owned = true;
  } else {
    sum.add_(g);
  }
}

void check_grad(const char* op, const Tensor& g, const Shape& shape, DType dtype) {
  if (!(g.shape() == shape) || g.dtype() != dtype)
    fail("backward: gradient rule of '{}' produced a gradient of shape {} {} for an input of shape {} {}", op,
         g.shape(), g.dtype(), shape, dtype);
}

Tensor run_hooks(const std::vector<GradHook>& hooks, Tensor grad) {
  for (const GradHook& hook : hooks) {
    Tensor replaced = hook(grad);
    if (replaced.defined()) {
      check_grad("hook", replaced, grad.shape(), grad.dtype());
      grad = replaced;
    }
  }
  return grad;
}

void accumulate_into_leaf(TensorImpl& leaf, Tensor g) {
  g = run_hooks(leaf.leaf_hooks, g);
  if (!leaf.grad) {
    // Own a contiguous copy unless g is already private to us.
    bool private_buffer = g.is_contiguous() && g.storage().use_count() == 1 && g.impl_ptr().use_count() == 1;
    leaf.grad = (private_buffer ? g : g.clone()).impl_ptr();
  } else {
    Tensor(leaf.grad).add_(g);
  }
}
}  // namespace

bool is_grad_enabled() { return grad_enabled; }
uint64_t current_backward_id() { return running_backward; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }

Node::~Node() {
  // Destroy long chains iteratively: a recursive chain of shared_ptr
  // destructors would overflow the stack on graphs thousands of ops deep.
  // Every child reference moves onto a stack; a child is expanded (its own
  // edges moved out) only when the stack holds its last reference, so its
  // destructor then finds nothing to recurse into — also when one node is
  // reached by several edges (y * y, residual connections).
  std::vector<std::shared_ptr<Node>> stack;
  auto take_edges = [&](std::vector<Edge>& edges) {
    for (Edge& e : edges)
      if (e.node) stack.push_back(std::move(e.node));
  };
  take_edges(next_);
  while (!stack.empty()) {
    std::shared_ptr<Node> node = std::move(stack.back());
    stack.pop_back();
    if (node.use_count() == 1) take_edges(node->next_);
  }
}

void Node::check_not_released() const {
  if (released_)
    fail(
        "backward: the graph through '{}' (output {}) was already freed by an earlier backward(); "
        "pass retain_graph=true to the first backward() to go through it twice",
        name_, shape());
}

Grads Node::apply(std::span<const Tensor> grads) {
  check_not_released();
  return run(grads);
}

void Node::release() {
  free_saved();
  released_ = true;
}

Edge edge_to(const Tensor& input) {
  if (!input.defined() || !input.requires_grad()) return {};
  if (input.grad_fn()) return {input.grad_fn(), nullptr, input.impl().output_nr};
  return {nullptr, input.impl_ptr()};
}

void set_grad_fn(const Tensor& output, std::shared_ptr<Node> node, uint32_t output_nr) {
  TensorImpl& impl = output.impl();
  impl.grad_fn = std::move(node);
  impl.output_nr = output_nr;
  impl.requires_grad = true;
}

class Engine {
 public:
  static void run(const Tensor& root, const Tensor& seed, bool retain_graph) {
    const std::shared_ptr<Node>& root_node = root.grad_fn();
    if (!root_node) {  // backward() on a leaf: its gradient is the seed itself
      accumulate_into_leaf(root.impl(), seed);
      return;
    }
    root_node->check_not_released();

    // 1. count consumers of each reachable node (iterative DFS)
    uint64_t mark = ++backward_counter;
    struct RestoreId {  // backward() may nest (a hook calling backward); restore the outer id
      uint64_t previous = running_backward;
      ~RestoreId() { running_backward = previous; }
    } restore_id;
    running_backward = mark;
    auto visit = [mark](Node* node) {
      node->visit_mark_ = mark;
      node->dependencies_ = 0;
      for (NodeOutput& out : node->outputs_) {  // scratch a failed backward may have left behind
        out.grad_sum = Tensor();
        out.grad_owned = false;
      }
    };
    std::vector<Node*> stack{root_node.get()};
    visit(root_node.get());
    while (!stack.empty()) {
      Node* node = stack.back();
      stack.pop_back();
      for (Edge& e : node->next_) {
        if (!e.node) continue;
        Node* child = e.node.get();
        if (child->visit_mark_ != mark) {
          visit(child);
          stack.push_back(child);
        }
        ++child->dependencies_;
      }
    }

    // 2. walk ready nodes; a node's gradients are complete once its count is 0
    std::vector<Node*> ready{root_node.get()};
    root_node->outputs_[root.impl().output_nr].grad_sum = seed;
    struct LeafSum {
      TensorImpl* leaf;
      Tensor sum;
      bool owned = false;
    };
    std::vector<LeafSum> leaf_sums;
    std::unordered_map<TensorImpl*, size_t> leaf_index;
    while (!ready.empty()) {
      Node* node = ready.back();
      ready.pop_back();
      // each output's gradient, through its hooks; zeros for the outputs none reached
      std::array<Tensor, kMaxNodeOutputs> storage;
      std::span<Tensor> grad_outputs(storage.data(), node->outputs_.size());
      bool any = false;
      for (size_t k = 0; k < grad_outputs.size(); ++k) {
        NodeOutput& out = node->outputs_[k];
        grad_outputs[k] = std::exchange(out.grad_sum, Tensor());
        out.grad_owned = false;
        if (grad_outputs[k].defined()) grad_outputs[k] = run_hooks(out.hooks, grad_outputs[k]);
        any = any || grad_outputs[k].defined();
      }
      Grads grads;
      if (any) {
        for (size_t k = 0; k < grad_outputs.size(); ++k)
          if (!grad_outputs[k].defined()) grad_outputs[k] = zeros(node->shape(k), node->dtype(k));
        grads = node->apply(grad_outputs);
        if (detail::anomaly_enabled) [[unlikely]]
          detail::check_backward_anomaly(*node, grad_outputs, grads);
        if (!retain_graph) node->release();
        if (grads.size() != node->next_.size())
          fail("backward: gradient rule of '{}' returned {} gradients for {} inputs", node->name_, grads.size(),
               node->next_.size());
      }
      for (size_t i = 0; i < node->next_.size(); ++i) {
        Edge& e = node->next_[i];
        const Tensor* g = (i < grads.size() && grads[i].defined()) ? &grads[i] : nullptr;
        if (e.leaf) {
          if (g) {
            check_grad(node->name_, *g, e.leaf->shape, e.leaf->dtype);
            auto [it, inserted] = leaf_index.try_emplace(e.leaf.get(), leaf_sums.size());
            if (inserted) leaf_sums.push_back({e.leaf.get(), Tensor()});
            LeafSum& s = leaf_sums[it->second];
            accumulate(s.sum, s.owned, *g);
          }
        } else if (e.node) {
          Node* child = e.node.get();
          if (g) {
            NodeOutput& out = child->outputs_[e.output];
            check_grad(node->name_, *g, out.shape, out.dtype);
            accumulate(out.grad_sum, out.grad_owned, *g);
          }
          if (--child->dependencies_ == 0) ready.push_back(child);
        }
      }
    }
    // 3. every leaf's summed gradient: hooks once, then into .grad()
    for (LeafSum& s : leaf_sums) accumulate_into_leaf(*s.leaf, std::move(s.sum));
  }
};

void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  NoGradGuard no_grad;  // gradient rules build no graph of their own
  Engine::run(root, grad, retain_graph);
}

}  // namespace nl

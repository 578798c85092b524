#pragma once
// to_dot: the autograd graph behind a tensor as Graphviz DOT text.
//
//   nl::Tensor y = nl::reference::layer_norm(x, {4}, w, b);
//   std::string dot = nl::to_dot(y, {.names = {{"x", x}, {"weight", w}, {"bias", b}}, .title = "LayerNorm"});
//   // write it to ln.dot, then: dot -Tpng ln.dot -o ln.png
//
// One box per op (its name, output shape and dtype; "0: ..., 1: ..." for an
// op with several outputs, whose arrows say at the tail which output they
// leave), one ellipse per leaf (a tensor the gradients flow into), arrows in
// the forward direction (input -> op). Ops whose gradient rule holds tensors saved by the forward are
// filled orange and list them ("saved: x [3,4] float64, mean [3] ..."); a
// saved tensor that views a named tensor (same storage, offset, shape and
// strides) shows that name. Inputs that need no gradient are not in the graph;
// a graph freed by backward() shows its ops as "freed".
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nl {

struct DotOptions {
  // Labels for tensors: leaves, the root, and saved tensors viewing them.
  std::vector<std::pair<std::string, Tensor>> names;
  std::string title;  // shown above the graph
};

std::string to_dot(const Tensor& root, const DotOptions& options = {});

// What to_dot counts, for printing next to the picture.
struct GraphSummary {
  int64_t ops = 0, leaves = 0;
  int64_t saved_tensors = 0;  // distinct saved tensors (a view saved by two ops counts once)
  int64_t saved_bytes = 0;    // their elements × item size
};
GraphSummary summarize_graph(const Tensor& root);

}  // namespace nl

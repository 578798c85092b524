// to_dot: walks the graph behind a tensor (the same edges backward() follows)
// and prints it as Graphviz DOT; the saved tensors are the ones each op
// named with save() (Node::saved_tensors(), core/autograd.h).
#include "core/graph_dot.h"

#include <fmt/format.h>

#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "core/autograd.h"

namespace nl {

namespace {
// Two tensors are "the same data" when they view the same elements.
using ViewKey = std::tuple<const Storage*, int64_t, std::vector<int64_t>, std::vector<int64_t>>;
ViewKey view_key(const Tensor& t) { return {t.storage().get(), t.offset(), t.shape().vec(), t.strides().vec()}; }

// The graph in visiting order: ops (root's first) and leaves, each with an id.
struct Graph {
  std::vector<Node*> ops;
  std::vector<TensorImpl*> leaves;
  std::unordered_map<const Node*, size_t> op_id;
  std::unordered_map<const TensorImpl*, size_t> leaf_id;
};

Graph walk(const Tensor& root) {
  Graph g;
  if (!root.defined()) fail("to_dot: the tensor is undefined");
  if (!root.grad_fn()) {
    if (root.requires_grad()) {
      g.leaf_id[root.impl_ptr().get()] = 0;
      g.leaves.push_back(root.impl_ptr().get());
    }
    return g;
  }
  std::vector<Node*> stack{root.grad_fn().get()};
  g.op_id[stack[0]] = 0;
  g.ops.push_back(stack[0]);
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& e : node->next()) {
      if (e.node && g.op_id.emplace(e.node.get(), g.ops.size()).second) {
        g.ops.push_back(e.node.get());
        stack.push_back(e.node.get());
      } else if (e.leaf && g.leaf_id.emplace(e.leaf.get(), g.leaves.size()).second) {
        g.leaves.push_back(e.leaf.get());
      }
    }
  }
  return g;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string shape_text(const Shape& shape, DType dtype) { return fmt::format("{} {}", shape, dtype); }
}  // namespace

std::string to_dot(const Tensor& root, const DotOptions& options) {
  Graph g = walk(root);
  std::map<ViewKey, std::string> names;
  std::unordered_map<const TensorImpl*, std::string> leaf_names;
  for (const auto& [name, t] : options.names) {
    if (!t.defined()) continue;
    names.emplace(view_key(t), name);
    leaf_names.emplace(t.impl_ptr().get(), name);
  }
  auto name_of = [&](const TensorImpl* impl, const char* fallback) {
    auto it = leaf_names.find(impl);
    return it != leaf_names.end() ? it->second : std::string(fallback);
  };

  std::string out = "digraph autograd {\n";
  out += "  node [fontname=\"monospace\", fontsize=10];\n  edge [color=\"#555555\"];\n";
  if (!options.title.empty())
    out += fmt::format("  labelloc=t; fontname=\"sans-serif\"; label=\"{}\";\n", escape(options.title));
  for (size_t i = 0; i < g.leaves.size(); ++i) {
    const TensorImpl* leaf = g.leaves[i];
    out += fmt::format("  leaf{} [shape=ellipse, style=filled, fillcolor=\"#dddddd\", label=\"{}\\n{}\"];\n", i,
                       escape(name_of(leaf, "leaf")), shape_text(leaf->shape, leaf->dtype));
  }
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Node* node = g.ops[i];
    // centred lines end in \n, the left-aligned list of saved tensors in \l; one line per output
    std::string label = escape(node->name()) + "\\n";
    for (size_t k = 0; k < node->num_outputs(); ++k) {
      if (node->num_outputs() > 1) label += fmt::format("{}: ", k);
      label += shape_text(node->shape(k), node->dtype(k)) + "\\n";
    }
    std::vector<Tensor> saved = node->saved_tensors();
    for (size_t k = 0; k < saved.size(); ++k) {
      auto it = names.find(view_key(saved[k]));
      label += (k == 0 ? "saved: " : "       ") + (it != names.end() ? escape(it->second) + " " : "") +
               shape_text(saved[k].shape(), saved[k].dtype()) + "\\l";
    }
    if (node->released()) label += "(freed by backward)\\n";
    out += fmt::format("  op{} [shape=box, style=\"rounded,filled\", fillcolor=\"{}\", label=\"{}\"];\n", i,
                       saved.empty() ? "#cfe2f3" : "#f9cb9c", label);
  }
  // edges, input -> op, labelled with the input's position when an op has
  // several, and at the tail with the output they leave when their op has several
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const auto& next = g.ops[i]->next();
    for (size_t k = 0; k < next.size(); ++k) {
      const Edge& e = next[k];
      std::string from = e.node   ? fmt::format("op{}", g.op_id.at(e.node.get()))
                         : e.leaf ? fmt::format("leaf{}", g.leaf_id.at(e.leaf.get()))
                                  : std::string();
      if (from.empty()) continue;
      std::vector<std::string> attributes;
      if (next.size() > 1) attributes.push_back(fmt::format("label=\"{}\"", k));
      if (e.node && e.node->num_outputs() > 1) attributes.push_back(fmt::format("taillabel=\"{}\"", e.output));
      out += attributes.empty() ? fmt::format("  {} -> op{};\n", from, i)
                                : fmt::format("  {} -> op{} [{}];\n", from, i, fmt::join(attributes, ", "));
    }
  }
  // the root itself, below its op
  if (!g.ops.empty())
    out += fmt::format("  output [shape=ellipse, style=bold, label=\"{}\\n{}\"];\n  op0 -> output{};\n",
                       escape(name_of(root.impl_ptr().get(), "output")), shape_text(root.shape(), root.dtype()),
                       g.ops[0]->num_outputs() > 1 ? fmt::format(" [taillabel=\"{}\"]", root.impl().output_nr) : "");
  return out + "}\n";
}

GraphSummary summarize_graph(const Tensor& root) {
  Graph g = walk(root);
  GraphSummary s{int64_t(g.ops.size()), int64_t(g.leaves.size()), 0, 0};
  std::set<ViewKey> seen;
  for (const Node* node : g.ops)
    for (const Tensor& t : node->saved_tensors())
      if (seen.insert(view_key(t)).second) {
        ++s.saved_tensors;
        s.saved_bytes += t.numel() * int64_t(itemsize(t.dtype()));
      }
  return s;
}

}  // namespace nl

// to_dot: every op of the graph is in the DOT text, saved tensors are listed
// with their shapes and names, and Graphviz's dot (when installed) parses it.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "normlab.h"

namespace {
// The op names of the graph behind t, found by walking it here.
std::multiset<std::string> op_names(const nl::Tensor& t) {
  std::multiset<std::string> names;
  std::set<const nl::Node*> seen;
  std::vector<const nl::Node*> stack{t.grad_fn().get()};
  while (!stack.empty()) {
    const nl::Node* node = stack.back();
    stack.pop_back();
    if (!node || !seen.insert(node).second) continue;
    names.insert(node->name());
    for (const nl::Edge& e : node->next()) stack.push_back(e.node.get());
  }
  return names;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Runs Graphviz's dot on the text; returns false (after a warning) when dot is missing.
bool dot_parses(const std::string& text, const std::string& name, bool& parsed) {
  if (std::system("command -v dot > /dev/null 2>&1") != 0) {
    WARN("graphviz's dot is not installed; skipping the parse check");
    return false;
  }
  auto path = std::filesystem::temp_directory_path() / ("normlab_test_" + name + ".dot");
  std::ofstream(path) << text;
  parsed = std::system(("dot -Tsvg " + path.string() + " -o /dev/null").c_str()) == 0;
  std::filesystem::remove(path);
  return true;
}

struct LayerNormInputs {
  nl::Tensor x = nl::randn({3, 4}, nl::f64).requires_grad_(true);
  nl::Tensor w = nl::rand({4}, nl::f64, 0.5, 1.5).requires_grad_(true);
  nl::Tensor b = nl::randn({4}, nl::f64).requires_grad_(true);
  nl::DotOptions names() const { return {.names = {{"x", x}, {"weight", w}, {"bias", b}}}; }
};
}  // namespace

TEST_CASE("to_dot: the composed LayerNorm names every op, and dot parses it", "[core][graph_dot]") {
  nl::manual_seed(1);
  LayerNormInputs in;
  nl::Tensor y = nl::reference::layer_norm(in.x, {4}, in.w, in.b);
  std::string dot = nl::to_dot(y, in.names());
  auto ops = op_names(y);
  REQUIRE(ops.size() >= 7);  // mean, sub, var, add_scalar, rsqrt, mul, mul, add
  for (const std::string& op : ops) {
    INFO("op " << op);
    CHECK(count(dot, "label=\"" + op + "\\n") == ops.count(op));
  }
  CHECK(count(dot, "shape=box") == ops.size());
  CHECK(count(dot, "shape=ellipse") == 4);  // x, weight, bias, output
  CHECK_THAT(dot, Catch::Contains("label=\"x\\n[3,4] float64\""));
  CHECK_THAT(dot, Catch::StartsWith("digraph autograd {") && Catch::EndsWith("}\n"));
  bool parsed = false;
  if (dot_parses(dot, "composed_ln", parsed)) CHECK(parsed);
}

TEST_CASE("to_dot: the fused LayerNorm is one op holding x, weight, mean and rstd", "[core][graph_dot]") {
  nl::manual_seed(2);
  LayerNormInputs in;
  nl::Tensor y = nl::layer_norm(in.x, {4}, in.w, in.b);
  std::vector<nl::Tensor> saved = y.grad_fn()->saved_tensors();
  REQUIRE(saved.size() == 4);
  CHECK(saved[0].shape() == nl::Shape{3, 4});  // x (a view of the input's storage)
  CHECK(saved[0].storage() == in.x.storage());
  CHECK(saved[1].storage() == in.w.storage());
  CHECK(saved[2].shape() == nl::Shape{3});  // mean
  CHECK(saved[3].shape() == nl::Shape{3});  // rstd
  std::string dot = nl::to_dot(y, in.names());
  CHECK(count(dot, "shape=box") == 1);
  CHECK_THAT(dot,
             Catch::Contains("layer_norm\\n[3,4] float64\\nsaved: x [3,4] float64\\l       weight [4] float64\\l"));
  bool parsed = false;
  if (dot_parses(dot, "fused_ln", parsed)) CHECK(parsed);

  nl::GraphSummary fused = nl::summarize_graph(y);
  CHECK(fused.ops == 1);
  CHECK(fused.leaves == 3);
  CHECK(fused.saved_tensors == 4);
  CHECK(fused.saved_bytes == (12 + 4 + 3 + 3) * 8);
  // the composition keeps more tensors alive for its backward
  nl::GraphSummary composed = nl::summarize_graph(nl::reference::layer_norm(in.x, {4}, in.w, in.b));
  CHECK(composed.ops > fused.ops);
  CHECK(composed.saved_bytes > fused.saved_bytes);
}

TEST_CASE("to_dot: ops that save nothing, freed graphs, leaves, titles with quotes", "[core][graph_dot]") {
  auto a = nl::ones({2}, nl::f64).requires_grad_(true);
  nl::Tensor y = (a + 1.0).sum();  // add_scalar and sum keep no tensors
  CHECK(y.grad_fn()->saved_tensors().empty());
  CHECK(nl::summarize_graph(y).saved_tensors == 0);
  nl::Tensor z = nl::exp(a);  // exp keeps its output
  CHECK(z.grad_fn()->saved_tensors().size() == 1);
  z.sum().backward();
  CHECK(z.grad_fn()->saved_tensors().empty());  // freed by backward
  CHECK_THAT(nl::to_dot(z), Catch::Contains("(freed by backward)"));
  CHECK_THAT(nl::to_dot(a, {.names = {{"a", a}}}), Catch::Contains("leaf0") && !Catch::Contains("op0"));
  std::string dot = nl::to_dot(y, {.title = "a \"quoted\" title"});
  CHECK_THAT(dot, Catch::Contains("label=\"a \\\"quoted\\\" title\""));
  bool parsed = false;
  if (dot_parses(dot, "quoted", parsed)) CHECK(parsed);
  CHECK_THROWS_WITH(nl::to_dot(nl::Tensor()), Catch::Contains("to_dot"));
}

TEST_CASE("saved_tensors: exactly what each op saved, inputs in the graph detached", "[core][graph_dot]") {
  nl::manual_seed(3);
  nl::Tensor a = nl::randn({2, 3}, nl::f64).requires_grad_(true);
  nl::Tensor b = nl::randn({3}, nl::f64);  // a constant
  // a primitive: mul saves both factors
  nl::Tensor y = a * b;
  std::vector<nl::Tensor> saved = y.grad_fn()->saved_tensors();
  REQUIRE(saved.size() == 2);
  CHECK(saved[0].shape() == nl::Shape{2, 3});
  CHECK(saved[1].shape() == nl::Shape{3});
  CHECK(saved[0].storage() == a.storage());
  CHECK_FALSE(saved[0].is_same(a));  // a is in the graph: held detached
  CHECK_FALSE(saved[0].requires_grad());
  CHECK(saved[1].is_same(b));  // b is not: held as it is
  // exp saves its own output, detached (else the output would own its own node)
  nl::Tensor e = nl::exp(a);
  saved = e.grad_fn()->saved_tensors();
  REQUIRE(saved.size() == 1);
  CHECK(saved[0].shape() == nl::Shape{2, 3});
  CHECK(saved[0].storage() == e.storage());
  CHECK(saved[0].is_leaf());

  // a fused op: batch_norm saves x, weight, mean and rstd; an absent weight is not listed
  nl::Tensor x = nl::randn({5, 3}, nl::f64).requires_grad_(true);
  nl::Tensor w = nl::rand({3}, nl::f64, 0.5, 1.5).requires_grad_(true);
  nl::Tensor bn = nl::batch_norm(x, nl::Tensor(), nl::Tensor(), w, nl::Tensor());
  saved = bn.grad_fn()->saved_tensors();
  REQUIRE(saved.size() == 4);
  CHECK(saved[0].shape() == nl::Shape{5, 3});  // x
  CHECK(saved[1].shape() == nl::Shape{3});     // weight
  CHECK(saved[2].shape() == nl::Shape{3});     // mean
  CHECK(saved[3].shape() == nl::Shape{3});     // rstd
  CHECK_THAT(nl::to_dot(bn, {.names = {{"x", x}, {"weight", w}}}),
             Catch::Contains("batch_norm\\n[5,3] float64\\nsaved: x [5,3] float64\\l       weight [3] float64\\l"
                             "       [3] float64\\l       [3] float64\\l"));
  nl::GraphSummary s = nl::summarize_graph(bn);
  CHECK(s.saved_tensors == 4);
  CHECK(s.saved_bytes == (15 + 3 + 3 + 3) * 8);
  CHECK(nl::batch_norm(x, nl::Tensor(), nl::Tensor()).grad_fn()->saved_tensors().size() == 3);
}

// The autograd engine: graph recording, backward(), accumulation, retain_graph,
// grad mode, detach, hooks, retain_grad and deep graphs (core/autograd.h, engine.cpp).
#include <catch2/catch.hpp>
#include <cmath>

#include "core/core_test_helpers.h"
#include "normlab.h"

using Catch::Matchers::Contains;
using nl::Grads;
using nl::Shape;
using nl::Tensor;
using nl_test::error_of;
using nl_test::leaf64;
using nl_test::values;
using V = std::vector<double>;

TEST_CASE("backward: a simple chain", "[core][autograd]") {
  Tensor x = leaf64({0.5, -1.0, 2.0});
  Tensor y = ((x * 2.0).exp() + 1.0).sum();  // dy/dx = 2 e^{2x}
  CHECK(y.grad_fn() != nullptr);
  CHECK(std::string(y.grad_fn()->name()) == "sum");
  y.backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().shape() == x.shape());
  CHECK(x.grad().dtype() == nl::f64);
  V g = values(x.grad());
  for (size_t i = 0; i < 3; ++i) CHECK(g[i] == Approx(2 * std::exp(2 * values(x)[i])));
}

TEST_CASE("backward: diamond graph sums the gradients of both paths", "[core][autograd]") {
  Tensor x = leaf64({1.0, 2.0});
  Tensor y = x * 3.0;  // shared intermediate
  Tensor out = (y * 2.0 + y * 5.0).sum();
  out.backward();
  CHECK(values(x.grad()) == V{21, 21});

  Tensor a = leaf64({0.0, 1.0});
  ((a * 2.0) * a.exp()).sum().backward();  // d/da 2a e^a = 2e^a + 2a e^a
  V g = values(a.grad());
  CHECK(g[0] == Approx(2.0));
  CHECK(g[1] == Approx(4 * std::exp(1.0)));
}

TEST_CASE("backward: a tensor used twice in one op (x*x -> 2x)", "[core][autograd]") {
  Tensor x = leaf64({-1.5, 0.0, 3.0});
  (x * x).sum().backward();
  CHECK(values(x.grad()) == V{-3.0, 0.0, 6.0});
  Tensor y = leaf64({2.0});
  (y * y * y).backward();  // one element: no seed needed
  CHECK(y.grad().item<double>() == Approx(12.0));
}

TEST_CASE("backward: two backward calls accumulate into .grad()", "[core][autograd]") {
  Tensor x = leaf64({1.0, 2.0});
  (x * 3.0).sum().backward();
  Tensor first = x.grad();
  CHECK(values(first) == V{3, 3});
  (x * x).sum().backward();
  CHECK(values(x.grad()) == V{5, 7});
  CHECK(x.grad().is_same(first));  // accumulated in place, as PyTorch
  x.set_grad(Tensor());            // the optimizer's zero_grad
  CHECK_FALSE(x.grad().defined());
  (x * 1.0).sum().backward();
  CHECK(values(x.grad()) == V{1, 1});
}

TEST_CASE("backward(grad): non-scalar outputs take an explicit seed", "[core][autograd]") {
  Tensor x = leaf64({1, 2, 3, 4}, Shape{2, 2});
  Tensor y = x * x;
  y.backward(nl::from_vector<double>({1, 0, 0.5, -1}, Shape{2, 2}));
  CHECK(values(x.grad()) == V{2, 0, 3, -8});
}

TEST_CASE("backward(): non-scalar output without a seed is an error", "[core][autograd]") {
  Tensor x = leaf64({1, 2, 3, 4}, Shape{2, 2});
  CHECK(error_of([&] { (x * 2.0).backward(); }) ==
        "backward: a gradient can be implied only for a one-element output; got shape [2,2], pass grad explicitly");
  CHECK(error_of([&] { (x * 2.0).sum().backward(nl::zeros({3}, nl::f64)); }) ==
        "backward: grad of shape [3] float64 does not match the output's shape [] float64");
  CHECK_THAT(error_of([&] { (x * 2.0).backward(nl::zeros({2, 2})); }), Contains("does not match"));  // dtype
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("backward: a one-element non-scalar output needs no seed", "[core][autograd]") {
  Tensor x = leaf64({3.0}, Shape{1, 1});
  (x * 2.0).backward();
  CHECK(x.grad().item<double>() == 2.0);
}

TEST_CASE("backward: retain_graph=true allows a second backward", "[core][autograd]") {
  Tensor x = leaf64({1.0, 2.0});
  Tensor y = (x.exp() * x).sum();
  y.backward(Tensor(), /*retain_graph=*/true);
  V once = values(x.grad());
  CHECK_FALSE(y.grad_fn()->released());
  y.backward();
  V twice = values(x.grad());
  for (size_t i = 0; i < 2; ++i) CHECK(twice[i] == Approx(2 * once[i]));
  CHECK(y.grad_fn()->released());
}

TEST_CASE("backward: without retain_graph a second backward says the graph was freed", "[core][autograd]") {
  Tensor x = leaf64({1.0, 2.0});
  Tensor y = (x * 2.0).sum();
  y.backward();
  CHECK(y.grad_fn()->released());
  CHECK(error_of([&] { y.backward(); }) ==
        "backward: the graph through 'sum' (output []) was already freed by an earlier backward(); "
        "pass retain_graph=true to the first backward() to go through it twice");
  CHECK(values(x.grad()) == V{2, 2});  // the failed call added nothing
}

TEST_CASE("backward: reaching a freed part of the graph from a new output throws", "[core][autograd]") {
  Tensor x = leaf64({1.0});
  Tensor h = x.exp();
  h.sum().backward();
  CHECK_THROWS_WITH((h * 2.0).sum().backward(), Contains("was already freed") && Contains("'exp'"));
}

TEST_CASE("backward: on a tensor that does not require grad", "[core][autograd]") {
  CHECK(error_of([] { nl::zeros({2}).backward(); }) ==
        "backward: called on a tensor of shape [2] that does not require grad "
        "(no input it was computed from had requires_grad_(), or it was computed under NoGradGuard)");
  Tensor x = leaf64({1.0});
  Tensor y;
  {
    nl::NoGradGuard no_grad;
    y = x * 2.0;
  }
  CHECK_THROWS_WITH(y.backward(), Contains("does not require grad"));
  CHECK_THROWS_WITH(Tensor().backward(), Contains("undefined tensor"));
}

TEST_CASE("backward: on a leaf, its gradient is a copy of the seed", "[core][autograd]") {
  Tensor x = leaf64({1.0, 2.0});
  Tensor seed = nl::from_vector<double>({0.5, -1.0});
  x.backward(seed);
  CHECK(values(x.grad()) == V{0.5, -1.0});
  CHECK(x.grad().storage() != seed.storage());
  x.backward(seed);
  CHECK(values(x.grad()) == V{1.0, -2.0});
  CHECK(values(seed) == V{0.5, -1.0});
}

TEST_CASE("NoGradGuard: records nothing and restores the previous mode, nesting", "[core][autograd]") {
  Tensor x = leaf64({1.0});
  REQUIRE(nl::is_grad_enabled());
  {
    nl::NoGradGuard outer;
    CHECK_FALSE(nl::is_grad_enabled());
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    CHECK(y.is_leaf());
    {
      nl::NoGradGuard inner;
      CHECK_FALSE(nl::is_grad_enabled());
    }
    CHECK_FALSE(nl::is_grad_enabled());  // the inner guard restores "off", not "on"
    CHECK_FALSE((x.exp() + x).requires_grad());
  }
  CHECK(nl::is_grad_enabled());
  CHECK((x * 2.0).requires_grad());
  nl::set_grad_enabled(false);
  CHECK_FALSE((x * 2.0).requires_grad());
  nl::set_grad_enabled(true);
  CHECK(nl::is_grad_enabled());
}

TEST_CASE("detach: cuts the graph but shares the data", "[core][autograd]") {
  Tensor x = leaf64({2.0, 3.0});
  Tensor d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.storage() == x.storage());
  Tensor y = (x * 2.0).detach();
  CHECK_FALSE(y.requires_grad());
  (x * d).sum().backward();  // only the x path carries gradient
  CHECK(values(x.grad()) == V{2.0, 3.0});
}

TEST_CASE("requires_grad_: leaves only, floating only", "[core][autograd]") {
  Tensor x = nl::zeros({2});
  CHECK_FALSE(x.requires_grad());
  CHECK(&x.requires_grad_() == &x);
  CHECK(x.requires_grad());
  CHECK(x.is_leaf());
  x.requires_grad_(false);
  CHECK_FALSE(x.requires_grad());
  x.requires_grad_(true);
  Tensor y = x * 2.0;
  CHECK_FALSE(y.is_leaf());
  CHECK(
      error_of([&] { y.requires_grad_(false); }) ==
      "requires_grad_: only leaf tensors can change requires_grad (this one is the output of 'mul_scalar', shape [2])");
}

TEST_CASE("int64 tensors cannot require grad", "[core][autograd]") {
  Tensor i = nl::arange(5);
  CHECK(error_of([&] { i.requires_grad_(); }) ==
        "requires_grad_: only floating tensors can require grad, got int64 of shape [5]");
  CHECK_FALSE(i.requires_grad());
  i.requires_grad_(false);  // turning it off is always fine
  Tensor x = leaf64({1.5, 2.5});
  CHECK_FALSE(x.to(nl::i64).requires_grad());  // converting to int64 leaves the graph
}

TEST_CASE("unreached leaves keep an undefined gradient", "[core][autograd]") {
  Tensor a = leaf64({1.0}), b = leaf64({2.0}), c = nl::from_vector<double>({3.0});
  Tensor unused_result = b * 2.0;
  (a * c).sum().backward();
  CHECK(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
  CHECK_FALSE(c.grad().defined());
  CHECK_FALSE(unused_result.grad().defined());
}

TEST_CASE("register_hook on a leaf: sees the gradient and can replace it", "[core][autograd][hooks]") {
  Tensor x = leaf64({1.0, 2.0});
  std::vector<V> seen;
  x.register_hook([&](const Tensor& g) {
    seen.push_back(values(g));
    return Tensor();  // keep
  });
  (x * 3.0).sum().backward();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == V{3, 3});
  CHECK(values(x.grad()) == V{3, 3});
  Tensor w = leaf64({1.0, 2.0});
  w.register_hook([](const Tensor& g) { return g * 10.0; });
  (w * w).sum().backward();
  CHECK(values(w.grad()) == V{20, 40});
}

TEST_CASE("register_hook on an intermediate: replacement flows to the inputs", "[core][autograd][hooks]") {
  Tensor x = leaf64({1.0, 2.0});
  Tensor y = x * 2.0;
  int calls = 0;
  V seen;
  y.register_hook([&](const Tensor& g) {
    ++calls;
    seen = values(g);
    return g * 0.5;
  });
  (y * y).sum().backward();  // dL/dy = 2y, summed over both uses before the hook
  CHECK(calls == 1);
  CHECK(seen == V{4, 8});
  CHECK(values(x.grad()) == V{4, 8});  // 0.5 * 2y * 2
  CHECK_FALSE(y.grad().defined());     // hooks don't retain
}

TEST_CASE("register_hook: hooks run in order, and the root's hooks see the seed", "[core][autograd][hooks]") {
  Tensor x = leaf64({1.0});
  Tensor y = x * 1.0;
  std::vector<int> order;
  y.register_hook([&](const Tensor& g) {
    order.push_back(1);
    return g + 1.0;
  });
  y.register_hook([&](const Tensor& g) {
    order.push_back(2);
    return g * 3.0;
  });
  y.backward(nl::from_vector<double>({1.0}));
  CHECK(order == std::vector<int>{1, 2});
  CHECK(x.grad().item<double>() == 6.0);
}

TEST_CASE("register_hook: errors for bad replacements and non-grad tensors", "[core][autograd][hooks]") {
  CHECK(error_of([] { nl::zeros({2}).register_hook([](const Tensor& g) { return g; }); }) ==
        "register_hook: tensor of shape [2] does not require grad, so no gradient will reach the hook");
  Tensor x = leaf64({1.0, 2.0});
  Tensor y = x * 2.0;
  y.register_hook([](const Tensor&) { return nl::zeros({3}, nl::f64); });
  CHECK(error_of([&] { y.sum().backward(); }) ==
        "backward: gradient rule of 'hook' produced a gradient of shape [3] float64 for an input of shape [2] float64");
}

TEST_CASE("a leaf hook runs once with the summed gradient, as PyTorch", "[core][autograd][hooks]") {
  // Regression (fixed in core/engine.cpp, accumulate_into_leaf): leaf hooks run once per
  // incoming edge, so for x*x the hook sees x twice instead of 2x once. A
  // non-linear hook (clipping, logging, a norm) then gives a different result
  // than the same hook on a non-leaf, or in PyTorch.
  Tensor x = leaf64({3.0});
  std::vector<double> seen;
  x.register_hook([&](const Tensor& g) {
    seen.push_back(g.item<double>());
    return Tensor();
  });
  (x * x).sum().backward();
  CHECK(seen == std::vector<double>{6.0});
  Tensor w = leaf64({3.0});
  w.register_hook([](const Tensor& g) { return nl::clamp(g, std::nullopt, 4.0); });  // clip to 4
  (w * w).sum().backward();
  CHECK(w.grad().item<double>() == 4.0);
}

TEST_CASE("retain_grad: keeps .grad() of an intermediate", "[core][autograd][hooks]") {
  Tensor x = leaf64({1.0, 2.0});
  Tensor y = x * 3.0, z = y * y;
  y.retain_grad();
  z.sum().backward(Tensor(), true);
  CHECK(values(y.grad()) == V{6, 12});  // 2y
  CHECK_FALSE(z.grad().defined());
  z.sum().backward();
  CHECK(values(y.grad()) == V{12, 24});  // accumulates like a leaf
  x.retain_grad();                       // a leaf: no-op
  CHECK(error_of([] { nl::zeros({1}).retain_grad(); }) == "retain_grad: tensor of shape [1] does not require grad");
}

TEST_CASE("retain_grad: sees what earlier hooks replaced", "[core][autograd][hooks]") {
  Tensor x = leaf64({2.0});
  Tensor y = x * 3.0;
  y.register_hook([](const Tensor& g) { return g * 2.0; });
  y.retain_grad();
  (y * 1.0).sum().backward();
  CHECK(y.grad().item<double>() == 2.0);
  CHECK(x.grad().item<double>() == 6.0);
}

TEST_CASE("set_grad: checks shape and dtype", "[core][autograd]") {
  Tensor x = leaf64({1.0, 2.0});
  x.set_grad(nl::ones({2}, nl::f64));
  (x * 1.0).sum().backward();
  CHECK(values(x.grad()) == V{2, 2});
  CHECK(error_of([&] { x.set_grad(nl::ones({2})); }) ==
        "set_grad: gradient of shape [2] float32 does not match tensor of shape [2] float64");
  CHECK_THROWS_AS(x.set_grad(nl::ones({3}, nl::f64)), nl::Error);
}

TEST_CASE("broadcast inputs get gradients summed back to their shape", "[core][autograd]") {
  Tensor a = leaf64({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  Tensor b = leaf64({10, 20, 30});
  (a * b).sum().backward();
  CHECK(values(b.grad()) == V{5, 7, 9});
  CHECK(values(a.grad()) == V{10, 20, 30, 10, 20, 30});
}

// ---- custom nodes through attach() ----------------------------------------------------------------

namespace {
// y = k·x with a hand-written rule that returns `grads` entries.
Tensor scaled(const Tensor& x, double k, std::function<Grads(const Tensor&)> rule) {
  Tensor y;
  {
    nl::NoGradGuard no_grad;
    y = x * k;
  }
  if (nl::needs_grad(x)) nl::attach(y, "scaled", {x}, std::move(rule));
  return y;
}
}  // namespace

TEST_CASE("attach: a custom node records its name, edges and rule", "[core][autograd][custom]") {
  Tensor x = leaf64({1.0, 2.0});
  Tensor c = nl::from_vector<double>({5.0, 5.0});
  Tensor y = scaled(x, 4.0, [](const Tensor& g) -> Grads { return {g * 4.0}; });
  REQUIRE(y.grad_fn());
  CHECK(std::string(y.grad_fn()->name()) == "scaled");
  CHECK(y.grad_fn()->shape() == Shape{2});
  CHECK(y.grad_fn()->dtype() == nl::f64);
  REQUIRE(y.grad_fn()->next().size() == 1);
  CHECK(y.grad_fn()->next()[0].leaf == x.impl_ptr());
  Tensor z = y * c;
  CHECK(z.grad_fn()->next()[0].node == y.grad_fn());
  CHECK_FALSE(z.grad_fn()->next()[1].needed());
  CHECK(z.grad_fn()->needs_input_grad(0));
  CHECK_FALSE(z.grad_fn()->needs_input_grad(1));
  z.sum().backward();
  CHECK(values(x.grad()) == V{20, 20});
  CHECK(nl::to_string(y) == "tensor([4.0000, 8.0000], dtype=float64, grad_fn=<scaled>)");
}

TEST_CASE("attach: an undefined gradient leaves the input's grad undefined", "[core][autograd][custom]") {
  Tensor x = leaf64({1.0});
  Tensor y = scaled(x, 2.0, [](const Tensor&) -> Grads { return {Tensor()}; });
  y.sum().backward();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("attach: rules returning the wrong count, shape or dtype are reported", "[core][autograd][custom]") {
  Tensor x = leaf64({1.0, 2.0});
  Tensor two = scaled(x, 1.0, [](const Tensor& g) -> Grads { return {g, g}; });
  CHECK(error_of([&] { two.sum().backward(); }) ==
        "backward: gradient rule of 'scaled' returned 2 gradients for 1 inputs");
  Tensor shape = scaled(x, 1.0, [](const Tensor& g) -> Grads { return {g.sum()}; });
  CHECK(
      error_of([&] { shape.sum().backward(); }) ==
      "backward: gradient rule of 'scaled' produced a gradient of shape [] float64 for an input of shape [2] float64");
  Tensor dtype = scaled(x, 1.0, [](const Tensor& g) -> Grads { return {g.to(nl::f32)}; });
  CHECK_THROWS_WITH(dtype.sum().backward(), Contains("float32 for an input of shape [2] float64"));
}

TEST_CASE("gradient rules run with grad mode off", "[core][autograd][custom]") {
  Tensor x = leaf64({1.0});
  bool mode_in_rule = true;
  Tensor y = scaled(x, 1.0, [&](const Tensor& g) -> Grads {
    mode_in_rule = nl::is_grad_enabled();
    return {g};
  });
  y.sum().backward();
  CHECK_FALSE(mode_in_rule);
  CHECK(nl::is_grad_enabled());
}

TEST_CASE("a failed backward leaves no stale partial gradients behind", "[core][autograd]") {
  // Regression (fixed in core/engine.cpp, Engine::run): when a rule or hook throws mid-walk,
  // nodes that already received a gradient keep it in grad_sum_ (and their
  // grad_owned_ flag); the next backward() through them adds the stale sum
  // again. Here x.grad() comes out 20 instead of 14.
  Tensor x = leaf64({1.0});
  Tensor y = x * 2.0;
  Tensor a = y * 3.0, b = y * 4.0;
  bool fail_now = true;
  b.register_hook([&](const Tensor&) -> Tensor {
    if (fail_now) throw std::runtime_error("hook failed");
    return Tensor();
  });
  a.register_hook([&](const Tensor&) -> Tensor {
    if (fail_now) throw std::runtime_error("hook failed");
    return Tensor();
  });
  Tensor out = (a + b).sum();
  CHECK_THROWS(out.backward(Tensor(), /*retain_graph=*/true));
  fail_now = false;
  out.backward(Tensor(), true);
  CHECK(x.grad().item<double>() == 14.0);
}

// ---- deep graphs ------------------------------------------------------------------------------

TEST_CASE("a 100000-op chain: backward and destruction don't overflow the stack", "[core][autograd][deep]") {
  Tensor x = leaf64({1.0, 2.0});
  {
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y * 1.0;
    y.sum().backward(Tensor(), true);
    CHECK(values(x.grad()) == V{1, 1});
  }  // graph destroyed here, with its saved state still retained
  {
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = (i % 2 == 0) ? y.tanh() : y + 1.0;
  }  // never differentiated
  SUCCEED("no stack overflow");
}

TEST_CASE("deep graphs whose nodes are reached by two edges are destroyed without overflow", "[core][autograd][deep]") {
  // Regression (fixed in core/engine.cpp, Node::~Node): the iterative destructor only takes
  // over nodes whose use_count is 1; a node that the dying node reaches by
  // two edges (y*y), or a residual y + f(y), is released by the edge vector's
  // destructor, recursively: ~100000 levels overflow an 8 MB stack (SIGSEGV).
  // Run in child processes so the crash fails a check instead of the runner.
  int square = nl_test::run_in_child([] {
    Tensor x = leaf64({1.0});
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y * y;
  });
  INFO("y*y chain: child wait status " << square);
  CHECK(nl_test::exited_cleanly(square));
  int residual = nl_test::run_in_child([] {
    Tensor x = leaf64({1.0});
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y + y.tanh() * 0.0;
    y.sum().backward();
  });
  INFO("residual chain: child wait status " << residual);
  CHECK(nl_test::exited_cleanly(residual));
}

// ---- nodes with several outputs -------------------------------------------------------------------

namespace {
// {2x, 3x} as two outputs of one node. The rule records the gradients it got
// and returns 2·da + 3·db (saving x's double, to check saved tensors too).
struct TwoOutputs {
  Tensor a, b;
};
TwoOutputs two_outputs(const Tensor& x, std::vector<Tensor>* seen = nullptr) {
  Tensor a, b, doubled;
  {
    nl::NoGradGuard no_grad;
    a = x * 2.0;
    b = x * 3.0;
  }
  if (nl::needs_grad(x))
    nl::attach({a, b}, "two_outputs", {x}, nl::save(a),
               [seen](const Tensor& da, const Tensor& db, const Tensor& a) -> Grads {
                 if (seen) *seen = {da, db, a};
                 return {da * 2.0 + db * 3.0};
               });
  return {a, b};
}
}  // namespace

TEST_CASE("multi-output node: one node, each output knows its index", "[core][autograd][multi_output]") {
  Tensor x = leaf64({1.0, 2.0});
  auto [a, b] = two_outputs(x);
  REQUIRE(a.grad_fn());
  CHECK(a.grad_fn() == b.grad_fn());
  const nl::Node& node = *a.grad_fn();
  CHECK(node.num_outputs() == 2);
  CHECK(node.shape(1) == Shape{2});
  CHECK(node.dtype(1) == nl::f64);
  CHECK(node.saved_tensors().size() == 1);
  CHECK(a.impl().output_nr == 0);
  CHECK(b.impl().output_nr == 1);
  Tensor c = a + b;
  REQUIRE(c.grad_fn()->next().size() == 2);
  CHECK(c.grad_fn()->next()[0].node == a.grad_fn());
  CHECK(c.grad_fn()->next()[0].output == 0);
  CHECK(c.grad_fn()->next()[1].output == 1);
  std::string dot = nl::to_dot(c);
  CHECK_THAT(dot, Contains("two_outputs\\n0: [2] float64\\n1: [2] float64\\n"));
  CHECK_THAT(dot, Contains("op1 -> op0 [label=\"1\", taillabel=\"1\"]"));
}

TEST_CASE("multi-output node: a gradient into one output only, the other gets zeros",
          "[core][autograd][multi_output]") {
  Tensor x = leaf64({1.0, 2.0});
  std::vector<Tensor> seen;
  auto [a, b] = two_outputs(x, &seen);
  (b * b).sum().backward();  // d/dx (3x)² = 18x
  CHECK(values(x.grad()) == V{18, 36});
  REQUIRE(seen.size() == 3);
  CHECK(values(seen[0]) == V{0, 0});  // da: materialized zeros
  CHECK(seen[0].shape() == Shape{2});
  CHECK(values(seen[1]) == V{6, 12});
  CHECK(values(seen[2]) == V{2, 4});  // the saved a
}

TEST_CASE("multi-output node: gradients into both outputs, summed over their uses", "[core][autograd][multi_output]") {
  Tensor x = leaf64({1.0, 2.0});
  auto [a, b] = two_outputs(x);
  (a * 5.0 + b + b).sum().backward();  // 2·5 + 3·2
  CHECK(values(x.grad()) == V{16, 16});
  // the root itself may be any output of a node
  Tensor y = leaf64({1.0});
  auto [p, q] = two_outputs(y);
  q.backward(nl::ones({1}, nl::f64));
  CHECK(values(y.grad()) == V{3});
}

TEST_CASE("multi-output node: hooks and retain_grad on the second output", "[core][autograd][multi_output][hooks]") {
  Tensor x = leaf64({1.0, 2.0});
  auto [a, b] = two_outputs(x);
  int a_calls = 0;
  a.register_hook([&](const Tensor&) {
    ++a_calls;
    return Tensor();
  });
  b.register_hook([](const Tensor& g) { return g * 10.0; });
  b.retain_grad();  // after the hook: sees the replaced gradient
  (a + b).sum().backward();
  CHECK(a_calls == 1);
  CHECK(values(b.grad()) == V{10, 10});
  CHECK_FALSE(a.grad().defined());
  CHECK(values(x.grad()) == V{32, 32});  // 2·1 + 3·10

  // no gradient reached b: its hook and retain_grad see nothing, the rule sees zeros
  Tensor y = leaf64({1.0});
  auto [p, q] = two_outputs(y);
  bool q_hook = false;
  q.register_hook([&](const Tensor&) {
    q_hook = true;
    return Tensor();
  });
  q.retain_grad();
  p.sum().backward();
  CHECK_FALSE(q_hook);
  CHECK_FALSE(q.grad().defined());
  CHECK(values(y.grad()) == V{2});
}

TEST_CASE("multi-output node: freed after one backward, for all its outputs", "[core][autograd][multi_output]") {
  Tensor x = leaf64({1.0, 2.0});
  auto [a, b] = two_outputs(x);
  (a + b).sum().backward();
  CHECK(a.grad_fn()->released());
  CHECK(a.grad_fn()->saved_tensors().empty());
  CHECK_THAT(error_of([&] { b.sum().backward(); }), Contains("'two_outputs'") && Contains("already freed"));
  CHECK_THAT(error_of([&] { a.backward(nl::ones({2}, nl::f64)); }), Contains("already freed"));
  // with retain_graph, twice through either output
  auto [c, d] = two_outputs(x);
  x.set_grad(Tensor());
  c.sum().backward(Tensor(), /*retain_graph=*/true);
  d.sum().backward();
  CHECK(values(x.grad()) == V{5, 5});
}

TEST_CASE("multi-output node: lstm_cell's h and c, either alone or both", "[core][autograd][multi_output]") {
  nl::manual_seed(4);
  Tensor gates = nl::randn({2, 8}, nl::f64).requires_grad_(true), c_prev = nl::randn({2, 2}, nl::f64);
  nl::LSTMState s = nl::lstm_cell(gates, c_prev);
  CHECK(s.h.grad_fn() == s.c.grad_fn());
  CHECK(s.h.grad_fn()->saved_tensors().size() == 3);  // gates, c_prev, c
  s.c.sum().backward(Tensor(), true);
  Tensor from_c = gates.grad().clone();
  gates.set_grad(Tensor());
  // the same gradient through h · 0 + c: the zeros for dh are exact
  (s.h * 0.0 + s.c).sum().backward();
  CHECK(nl_test::bitwise_equal(gates.grad(), from_c));
}

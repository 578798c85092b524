// Module hooks: forward hooks see (module, input, output) and may replace the
// output; backward pre-hooks see the gradient of the module's output and may
// replace it; handles remove them; Sequential runs its children's hooks.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/layers/norm_test_helpers.h"

namespace layers = nl::layers;
using normlab_test::max_abs_diff;

namespace {
std::shared_ptr<layers::Linear> linear64(int64_t in, int64_t out) {
  return std::make_shared<layers::Linear>(in, out, true, nl::f64);
}
}  // namespace

TEST_CASE("Module hooks: a forward hook sees input and output and may replace the output", "[layers][hooks]") {
  nl::manual_seed(1);
  auto lin = linear64(3, 2);
  auto x = nl::randn({4, 3}, nl::f64);
  int calls = 0;
  nl::Tensor seen_in, seen_out;
  auto handle = lin->register_forward_hook([&](layers::Module& m, const nl::Tensor& in, const nl::Tensor& out) {
    ++calls;
    CHECK(&m == lin.get());
    seen_in = in;
    seen_out = out;
    return nl::Tensor();  // keep the output
  });
  nl::Tensor y = (*lin)(x);
  CHECK(calls == 1);
  CHECK(seen_in.is_same(x));
  CHECK(seen_out.is_same(y));
  lin->forward(x);  // forward() itself runs no hooks
  CHECK(calls == 1);

  auto doubling = lin->register_forward_hook([](layers::Module&, const nl::Tensor&, const nl::Tensor& out) {
    return out * 2.0;
  });
  CHECK(max_abs_diff((*lin)(x), lin->forward(x) * 2.0) == 0.0);
  CHECK(calls == 2);
  doubling.remove();
  handle.remove();
  CHECK(max_abs_diff((*lin)(x), lin->forward(x)) == 0.0);
  CHECK(calls == 2);
  handle.remove();  // twice is harmless
}

TEST_CASE("Module hooks: a backward pre-hook sees dloss/doutput and may replace it", "[layers][hooks]") {
  nl::manual_seed(2);
  auto lin = linear64(3, 2);
  auto x = nl::randn({4, 3}, nl::f64);
  auto c = nl::randn({4, 2}, nl::f64);
  nl::Tensor seen;
  lin->register_full_backward_pre_hook([&](layers::Module&, const nl::Tensor& g) {
    seen = g.clone();
    return nl::Tensor();
  });
  ((*lin)(x) * c).sum().backward();
  CHECK(max_abs_diff(seen, c) == 0.0);  // ∂Σ(y·c)/∂y = c
  nl::Tensor plain = lin->weight.grad().clone();

  // replacing the gradient by 3·g triples what reaches the parameters
  lin->zero_grad();
  lin->register_full_backward_pre_hook([](layers::Module&, const nl::Tensor& g) { return g * 3.0; });
  ((*lin)(x) * c).sum().backward();
  CHECK(max_abs_diff(lin->weight.grad(), plain * 3.0) < 1e-12);
}

TEST_CASE("Module hooks: Sequential runs every child's hooks, in order", "[layers][hooks]") {
  nl::manual_seed(3);
  layers::Sequential model{linear64(3, 4), std::make_shared<layers::Tanh>(), linear64(4, 2)};
  std::vector<std::string> forward_order, backward_order;
  for (auto& [name, child] : model.named_children()) {
    child->register_forward_hook([&, name = name](layers::Module&, const nl::Tensor&, const nl::Tensor&) {
      forward_order.push_back(name);
      return nl::Tensor();
    });
    child->register_full_backward_pre_hook([&, name = name](layers::Module&, const nl::Tensor&) {
      backward_order.push_back(name);
      return nl::Tensor();
    });
  }
  model(nl::randn({5, 3}, nl::f64)).sum().backward();
  CHECK(forward_order == std::vector<std::string>{"0", "1", "2"});
  CHECK(backward_order == std::vector<std::string>{"2", "1", "0"});
}

TEST_CASE("Module hooks: a module passing its input through gets its own gradient only", "[layers][hooks]") {
  layers::Dropout dropout(0.5);
  dropout.eval();  // identity: returns its input
  auto x = nl::from_vector<double>({1, 2}).requires_grad_(true);
  nl::Tensor seen;
  dropout.register_full_backward_pre_hook([&](layers::Module&, const nl::Tensor& g) {
    seen = g.clone();
    return nl::Tensor();
  });
  // x is used twice: once through the module (weight 3), once directly (weight 5)
  nl::Tensor loss = (dropout(x) * 3.0).sum() + (x * 5.0).sum();
  loss.backward();
  CHECK(seen.to_vector<double>() == std::vector<double>{3, 3});
  CHECK(x.grad().to_vector<double>() == std::vector<double>{8, 8});
}

TEST_CASE("Module hooks: no backward hook under NoGradGuard, handles outlive modules", "[layers][hooks]") {
  layers::HookHandle handle;
  int calls = 0;
  {
    auto lin = linear64(2, 2);
    handle = lin->register_full_backward_pre_hook([&](layers::Module&, const nl::Tensor&) {
      ++calls;
      return nl::Tensor();
    });
    nl::NoGradGuard no_grad;
    CHECK(!(*lin)(nl::ones({1, 2}, nl::f64)).requires_grad());
  }
  handle.remove();  // the module is gone: nothing to do
  CHECK(calls == 0);
  // a graph that outlives its module skips the hook
  nl::Tensor y;
  {
    auto lin = linear64(2, 2);
    lin->register_full_backward_pre_hook([&](layers::Module&, const nl::Tensor&) {
      ++calls;
      return nl::Tensor();
    });
    y = (*lin)(nl::ones({1, 2}, nl::f64));
  }
  y.sum().backward();
  CHECK(calls == 0);
}

// Module hooks: forward hooks see (module, input, output) and may replace the
// output; backward pre-hooks see the gradient of the module's output and may
// replace it; handles remove them; Sequential runs its children's hooks;
// forwards with masks or states (attention, a transformer block, an LSTM with
// initial states) run them too, through Module::with_hooks.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

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

TEST_CASE("Module hooks: with_hooks runs them around a forward of another signature", "[layers][hooks]") {
  nl::manual_seed(5);
  auto lin = linear64(3, 2);
  auto x = nl::randn({4, 3}, nl::f64);
  int runs = 0;
  auto run = [&] {
    ++runs;
    return lin->forward(x);
  };
  // no hooks: run() once, its result as it is
  CHECK(max_abs_diff(lin->with_hooks(x, run), lin->forward(x)) == 0.0);
  CHECK(runs == 1);
  nl::Tensor seen_in;
  lin->register_forward_hook([&](layers::Module&, const nl::Tensor& in, const nl::Tensor& out) {
    seen_in = in;
    return out * 2.0;
  });
  CHECK(max_abs_diff(lin->with_hooks(x, run), lin->forward(x) * 2.0) == 0.0);
  CHECK(runs == 2);
  CHECK(seen_in.is_same(x));
}

TEST_CASE("Module hooks: a transformer block runs its self-attention's and its own hooks", "[layers][hooks]") {
  nl::manual_seed(6);
  layers::TransformerEncoderLayerOptions options{.dim_feedforward = 8, .dropout = 0.0, .norm = layers::NormPlacement::pre,
                                                 .dtype = nl::f64};
  layers::TransformerEncoderLayer block(4, 2, options);
  auto x = nl::randn({3, 2, 4}, nl::f64);  // (L, N, E)
  int attn_calls = 0, attn_backward = 0, block_calls = 0;
  nl::Tensor attn_in, attn_out;
  block.self_attn->register_forward_hook([&](layers::Module&, const nl::Tensor& in, const nl::Tensor& out) {
    ++attn_calls;
    attn_in = in;
    attn_out = out;
    return nl::Tensor();
  });
  block.self_attn->register_full_backward_pre_hook([&](layers::Module&, const nl::Tensor&) {
    ++attn_backward;
    return nl::Tensor();
  });
  block.register_forward_hook([&](layers::Module&, const nl::Tensor&, const nl::Tensor&) {
    ++block_calls;
    return nl::Tensor();
  });
  nl::Tensor y = block(x, nl::Tensor(), nl::Tensor(), /*is_causal=*/true);
  CHECK(attn_calls == 1);
  CHECK(block_calls == 1);
  // pre-norm: self-attention sees norm1(x) and returns attention(norm1(x)) with the causal mask
  nl::Tensor h = block.norm1->forward(x);
  CHECK(max_abs_diff(attn_in, h) == 0.0);
  CHECK(max_abs_diff(attn_out, block.self_attn->forward(h, h, h, {}, {}, true, false).output) == 0.0);
  y.sum().backward();
  CHECK(attn_backward == 1);

  // a hook replacing the attention output: zero leaves x + ff(norm2(x)), ff = linear2(relu(linear1(.)))
  block.self_attn->register_forward_hook([](layers::Module&, const nl::Tensor&, const nl::Tensor& out) {
    return nl::zeros(out.shape(), out.dtype());
  });
  nl::Tensor without_attention = x + block.linear2->forward(nl::relu(block.linear1->forward(block.norm2->forward(x))));
  CHECK(max_abs_diff(block(x, nl::Tensor()), without_attention) < 1e-12);
  CHECK(block_calls == 2);
}

TEST_CASE("Module hooks: an LSTM called with initial states runs them, a replaced output replaces Output::output",
          "[layers][hooks]") {
  nl::manual_seed(7);
  layers::LSTM lstm(3, 4, {.dtype = nl::f64});
  auto x = nl::randn({5, 2, 3}, nl::f64), h0 = nl::randn({1, 2, 4}, nl::f64), c0 = nl::randn({1, 2, 4}, nl::f64);
  int calls = 0;
  lstm.register_forward_hook([&](layers::Module&, const nl::Tensor& in, const nl::Tensor& out) {
    ++calls;
    CHECK(in.is_same(x));
    return out * 2.0;
  });
  layers::LSTM::Output hooked = lstm(x, h0, c0), plain = lstm.forward(x, h0, c0);
  CHECK(calls == 1);
  CHECK(max_abs_diff(hooked.output, plain.output * 2.0) == 0.0);
  CHECK(max_abs_diff(hooked.h_n, plain.h_n) == 0.0);  // the states are the forward's
  CHECK(max_abs_diff(hooked.c_n, plain.c_n) == 0.0);
}

// Module hooks: forward hooks see (module, input, output) and may replace the
// output; backward pre-hooks see the gradient of the module's output and may
// replace it; handles remove them; Sequential runs its children's hooks;
// forwards of any signature (attention with masks, a transformer block, an
// LSTM with initial states, a loss) run them too, through Layer's call
// operator; and no module's forward can be called past it.
#include <catch2/catch.hpp>
#include <type_traits>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

namespace layers = nl::layers;
using normlab_test::max_abs_diff;

namespace {
std::shared_ptr<layers::Linear> linear64(int64_t in, int64_t out) {
  return std::make_shared<layers::Linear>(in, out, true, nl::f64);
}

// y = x·Wᵀ + b by the op itself, not through the module: no hooks.
nl::Tensor linear_by_op(const layers::Linear& lin, const nl::Tensor& x) { return nl::linear(x, lin.weight, lin.bias); }
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
  linear_by_op(*lin, x);  // the op alone is not the module: no hooks
  CHECK(calls == 1);

  auto doubling =
      lin->register_forward_hook([](layers::Module&, const nl::Tensor&, const nl::Tensor& out) { return out * 2.0; });
  CHECK(max_abs_diff((*lin)(x), linear_by_op(*lin, x) * 2.0) == 0.0);
  CHECK(calls == 2);
  doubling.remove();
  handle.remove();
  CHECK(max_abs_diff((*lin)(x), linear_by_op(*lin, x)) == 0.0);
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
  ((*lin)(x)*c).sum().backward();
  CHECK(max_abs_diff(seen, c) == 0.0);  // ∂Σ(y·c)/∂y = c
  nl::Tensor plain = lin->weight.grad().clone();

  // replacing the gradient by 3·g triples what reaches the parameters
  lin->zero_grad();
  lin->register_full_backward_pre_hook([](layers::Module&, const nl::Tensor& g) { return g * 3.0; });
  ((*lin)(x)*c).sum().backward();
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

namespace {
// A module whose forward takes a number before its tensors and counts its runs.
class ScaleShift : public layers::Layer<ScaleShift> {
 public:
  ScaleShift() : Layer("ScaleShift") {}
  int runs = 0;

 protected:
  friend Layer<ScaleShift>;
  nl::Tensor forward(double scale, const nl::Tensor& x, const nl::Tensor& shift) {
    ++runs;
    return x * scale + shift;
  }
};
}  // namespace

TEST_CASE("Module hooks: the call operator runs them around a forward of any signature", "[layers][hooks]") {
  nl::manual_seed(5);
  ScaleShift module;
  auto x = nl::randn({4, 3}, nl::f64), shift = nl::randn({4, 3}, nl::f64);
  // no hooks: forward once, its result as it is
  CHECK(max_abs_diff(module(3.0, x, shift), x * 3.0 + shift) == 0.0);
  CHECK(module.runs == 1);
  nl::Tensor seen_in;
  module.register_forward_hook([&](layers::Module&, const nl::Tensor& in, const nl::Tensor& out) {
    seen_in = in;
    return out * 2.0;
  });
  CHECK(max_abs_diff(module(3.0, x, shift), (x * 3.0 + shift) * 2.0) == 0.0);
  CHECK(module.runs == 2);
  CHECK(seen_in.is_same(x));  // the first Tensor argument, whatever comes before it
}

TEST_CASE("Module hooks: a forward pre-hook runs before forward, on both call paths, until removed",
          "[layers][hooks]") {
  nl::manual_seed(11);
  layers::Linear lin(3, 2, true, nl::f64);
  layers::Module& as_module = lin;
  auto x = nl::randn({4, 3}, nl::f64);
  std::vector<std::string> order;
  nl::Tensor seen_in;
  // the pre-hook changes the module before forward reads it: this call's output shows it
  auto pre = lin.register_forward_pre_hook([&](layers::Module& m, const nl::Tensor& in) {
    CHECK(&m == &lin);
    seen_in = in;
    order.push_back("pre");
    nl::NoGradGuard no_grad;
    lin.bias.fill_(0.5);
  });
  auto post = lin.register_forward_hook([&](layers::Module&, const nl::Tensor&, const nl::Tensor&) {
    order.push_back("post");
    return nl::Tensor();
  });
  nl::Tensor y = lin(x);
  CHECK(seen_in.is_same(x));
  CHECK(max_abs_diff(y, nl::matmul(x, lin.weight.t()) + 0.5) < 1e-15);
  as_module(x);  // through Module&, as Sequential calls its children
  CHECK(order == std::vector<std::string>{"pre", "post", "pre", "post"});
  pre.remove();
  {
    nl::NoGradGuard no_grad;
    lin.bias.fill_(-1.0);
  }
  CHECK(max_abs_diff(lin(x), nl::matmul(x, lin.weight.t()) - 1.0) < 1e-15);
  CHECK(order.size() == 5);  // only the forward hook ran
  post.remove();

  // a forward of other arguments runs it too, on the first Tensor argument
  ScaleShift module;
  auto shift = nl::randn({4, 3}, nl::f64);
  int pre_runs_seen = -1;
  module.register_forward_pre_hook([&](layers::Module&, const nl::Tensor& in) {
    pre_runs_seen = module.runs;  // forward has not run yet in this call
    seen_in = in;
  });
  module(2.0, x, shift);
  CHECK(pre_runs_seen == 0);
  CHECK(module.runs == 1);
  CHECK(seen_in.is_same(x));
  REQUIRE_THROWS_WITH(lin.register_forward_pre_hook(nullptr), Catch::Contains("register_forward_pre_hook"));
}

TEST_CASE("Module hooks: a transformer block runs its self-attention's and its own hooks", "[layers][hooks]") {
  nl::manual_seed(6);
  layers::TransformerEncoderLayerOptions options{
      .dim_feedforward = 8, .dropout = 0.0, .norm = layers::NormPlacement::pre, .dtype = nl::f64};
  layers::TransformerEncoderLayer block(4, 2, options);
  auto x = nl::randn({3, 2, 4}, nl::f64);  // (L, N, E)
  // the expected values first, before any hook is registered: pre-norm, so
  // self-attention sees norm1(x) and returns attention(norm1(x)) with the causal mask
  nl::Tensor h = (*block.norm1)(x);
  nl::Tensor attention = (*block.self_attn)(h, h, h, nl::Tensor(), nl::Tensor(), true, false).output;
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
  CHECK(max_abs_diff(attn_in, h) == 0.0);
  CHECK(max_abs_diff(attn_out, attention) == 0.0);
  y.sum().backward();
  CHECK(attn_backward == 1);

  // a hook replacing the attention output: zero leaves x + ff(norm2(x)), ff = linear2(relu(linear1(.)))
  block.self_attn->register_forward_hook(
      [](layers::Module&, const nl::Tensor&, const nl::Tensor& out) { return nl::zeros(out.shape(), out.dtype()); });
  nl::Tensor without_attention = x + (*block.linear2)(nl::relu((*block.linear1)((*block.norm2)(x))));
  CHECK(max_abs_diff(block(x, nl::Tensor()), without_attention) < 1e-12);
  CHECK(block_calls == 2);
}

TEST_CASE("Module hooks: an LSTM called with initial states runs them, a replaced output replaces Output::output",
          "[layers][hooks]") {
  nl::manual_seed(7);
  layers::LSTM lstm(3, 4, {.dtype = nl::f64});
  auto x = nl::randn({5, 2, 3}, nl::f64), h0 = nl::randn({1, 2, 4}, nl::f64), c0 = nl::randn({1, 2, 4}, nl::f64);
  layers::LSTM::Output plain = lstm(x, h0, c0);  // before the hook
  int calls = 0;
  lstm.register_forward_hook([&](layers::Module&, const nl::Tensor& in, const nl::Tensor& out) {
    ++calls;
    CHECK(in.is_same(x));
    return out * 2.0;
  });
  layers::LSTM::Output hooked = lstm(x, h0, c0);
  CHECK(calls == 1);
  CHECK(max_abs_diff(hooked.output, plain.output * 2.0) == 0.0);
  CHECK(max_abs_diff(hooked.h_n, plain.h_n) == 0.0);  // the states are the forward's
  CHECK(max_abs_diff(hooked.c_n, plain.c_n) == 0.0);
}

TEST_CASE("Module hooks: MultiheadAttention called with masks runs them on query and Output::output",
          "[layers][hooks][attention]") {
  nl::manual_seed(8);
  layers::MultiheadAttention mha(4, 2, 0.0, true, /*batch_first=*/true, nl::f64);
  auto q = nl::randn({2, 3, 4}, nl::f64).requires_grad_(true), kv = nl::randn({2, 5, 4}, nl::f64);
  auto padding = nl::from_vector<double>({0, 0, 0, 1, 1, 0, 0, 0, 0, 1}, {2, 5});  // nonzero: a padded key
  auto mask = nl::zeros({3, 5}, nl::f64);
  auto call = [&] { return mha(q, kv, kv, padding, mask, /*is_causal=*/false, /*need_weights=*/true); };
  layers::MultiheadAttention::Output plain = call();  // before the hooks
  int calls = 0;
  nl::Tensor seen_in, seen_out, seen_grad;
  mha.register_forward_hook([&](layers::Module& m, const nl::Tensor& in, const nl::Tensor& out) {
    ++calls;
    CHECK(&m == &mha);
    seen_in = in;
    seen_out = out;
    return out * 3.0;
  });
  mha.register_full_backward_pre_hook([&](layers::Module&, const nl::Tensor& g) {
    seen_grad = g.clone();
    return nl::Tensor();
  });
  auto c = nl::randn({2, 3, 4}, nl::f64);
  layers::MultiheadAttention::Output hooked = call();
  CHECK(calls == 1);
  CHECK(seen_in.is_same(q));                                      // the query, the first tensor
  CHECK(max_abs_diff(seen_out, plain.output) == 0.0);             // the forward's Output::output
  CHECK(max_abs_diff(hooked.output, plain.output * 3.0) == 0.0);  // replaced by the hook's
  CHECK(max_abs_diff(hooked.weights, plain.weights) == 0.0);      // the rest is the forward's
  (hooked.output * c).sum().backward();
  REQUIRE(seen_grad.defined());
  CHECK(max_abs_diff(seen_grad, c) == 0.0);  // ∂Σ(out·c)/∂out = c, at the hooked output
}

TEST_CASE("Module hooks: a loss module runs them on its input and the loss", "[layers][hooks]") {
  nl::manual_seed(9);
  layers::CrossEntropyLoss loss_fn;
  auto logits = nl::randn({4, 3}, nl::f64).requires_grad_(true);
  auto targets = nl::from_vector<int64_t>({0, 2, 1, 2});
  int calls = 0;
  nl::Tensor seen_in, seen_loss, seen_grad;
  loss_fn.register_forward_hook([&](layers::Module&, const nl::Tensor& in, const nl::Tensor& out) {
    ++calls;
    seen_in = in;
    seen_loss = out;
    return nl::Tensor();
  });
  loss_fn.register_full_backward_pre_hook([&](layers::Module&, const nl::Tensor& g) {
    seen_grad = g.clone();
    return g * 2.0;  // doubles every gradient below the loss
  });
  nl::Tensor loss = loss_fn(logits, targets);
  CHECK(calls == 1);
  CHECK(seen_in.is_same(logits));
  CHECK(seen_loss.is_same(loss));
  CHECK(loss.item<double>() == nl::cross_entropy(logits, targets).item<double>());
  loss.backward();
  REQUIRE(seen_grad.defined());
  CHECK(seen_grad.item<double>() == 1.0);  // ∂loss/∂loss
  nl::Tensor doubled = logits.grad().clone();
  logits.set_grad(nl::Tensor());
  nl::cross_entropy(logits, targets).backward();
  CHECK(max_abs_diff(doubled, logits.grad() * 2.0) < 1e-15);

  layers::MSELoss mse;
  mse.register_forward_hook([&](layers::Module&, const nl::Tensor&, const nl::Tensor&) {
    ++calls;
    return nl::Tensor();
  });
  mse(logits, nl::zeros({4, 3}, nl::f64));
  CHECK(calls == 2);
}

namespace {
// Whether module.forward(args...) compiles from outside the module: a call
// that would skip the hooks. Checked here, at namespace scope, where no
// friendship reaches.
template <typename M, typename... Args>
concept forward_callable_from_outside = requires(M& module, const Args&... args) {
  module.forward(args...);
};

// The check itself can say yes: a class with a public forward.
struct PublicForward {
  nl::Tensor forward(const nl::Tensor& x) { return x; }
};
static_assert(forward_callable_from_outside<PublicForward, nl::Tensor>);

using nl::Tensor;
static_assert(!forward_callable_from_outside<layers::Linear, Tensor>);
static_assert(!forward_callable_from_outside<layers::LayerNorm, Tensor>);
static_assert(!forward_callable_from_outside<layers::ReLU, Tensor>);
static_assert(!forward_callable_from_outside<layers::Sequential, Tensor>);
static_assert(!forward_callable_from_outside<layers::Module, Tensor>);  // the virtual one-tensor forward
static_assert(!forward_callable_from_outside<layers::MultiheadAttention, Tensor, Tensor, Tensor>);
static_assert(!forward_callable_from_outside<layers::LSTM, Tensor, Tensor, Tensor>);
static_assert(!forward_callable_from_outside<layers::TransformerEncoderLayer, Tensor, Tensor>);
static_assert(!forward_callable_from_outside<layers::CrossEntropyLoss, Tensor, Tensor>);
static_assert(!forward_callable_from_outside<nl::models::GPT, Tensor>);
static_assert(!forward_callable_from_outside<nl::dist::SyncBatchNorm, Tensor>);
// ... while the call operator takes the same arguments
static_assert(std::is_invocable_r_v<Tensor, layers::Linear&, const Tensor&>);
static_assert(std::is_invocable_r_v<layers::LSTM::Output, layers::LSTM&, const Tensor&, const Tensor&, const Tensor&>);
static_assert(std::is_invocable_r_v<Tensor, layers::CrossEntropyLoss&, const Tensor&, const Tensor&>);
}  // namespace

TEST_CASE("Module hooks: no module's forward is callable past the call operator (compile-time)", "[layers][hooks]") {
  // The static_asserts above hold, or this file does not compile. One run
  // shows that both paths — a module's own type, and Module& as containers
  // hold it — reach the same forward.
  nl::manual_seed(10);
  layers::Linear lin(3, 2, true, nl::f64);
  layers::Module& as_module = lin;
  auto x = nl::randn({2, 3}, nl::f64);
  CHECK(max_abs_diff(lin(x), as_module(x)) == 0.0);
  CHECK(max_abs_diff(lin(x), linear_by_op(lin, x)) == 0.0);
}

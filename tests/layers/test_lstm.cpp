// LSTM in its three cells: PyTorch parity (plain), gradients against finite
// differences, the fused cell against primitives, causality, what
// LayerNorm and BatchNorm do across time and batch, and errors.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/layers/module_gradcheck.h"
#include "tests/layers/norm_test_helpers.h"

using namespace normlab_test;
namespace layers = nl::layers;
using layers::LSTMCell;

namespace {
layers::LSTMOptions options_for(LSTMCell cell, int64_t num_layers = 1, bool batch_first = false) {
  layers::LSTMOptions o;
  o.cell = cell;
  o.num_layers = num_layers;
  o.batch_first = batch_first;
  o.dtype = nl::f64;
  return o;
}
const LSTMCell kCells[] = {LSTMCell::plain, LSTMCell::layer_norm, LSTMCell::batch_norm};
const char* cell_label(LSTMCell c) { return c == LSTMCell::plain ? "plain" : c == LSTMCell::layer_norm ? "layer_norm" : "batch_norm"; }
}  // namespace

TEST_CASE("LSTM: PyTorch parity (2 layers, batch_first, initial states, all gradients)", "[layers][lstm][pytorch]") {
  auto f = nl::io::load_safetensors(NORMLAB_FIXTURES_DIR "/lstm.safetensors");
  layers::LSTMOptions o;
  o.num_layers = 2;
  o.batch_first = true;
  layers::LSTM lstm(3, 4, o);
  nl::StateDict state;
  for (auto& [k, v] : f)
    if (k.rfind("lstm.", 0) == 0) state[k.substr(5)] = v;
  lstm.load_state_dict(state);  // strict: PyTorch's names and shapes
  auto x = f.at("x").clone().requires_grad_(true), h0 = f.at("h0").clone().requires_grad_(true),
       c0 = f.at("c0").clone().requires_grad_(true);
  auto out = lstm(x, h0, c0);
  CHECK(max_abs_diff(out.output, f.at("output")) < 1e-5);
  CHECK(max_abs_diff(out.h_n, f.at("h_n")) < 1e-5);
  CHECK(max_abs_diff(out.c_n, f.at("c_n")) < 1e-5);
  ((out.output * f.at("g_output")).sum() + (out.h_n * f.at("g_h_n")).sum() + (out.c_n * f.at("g_c_n")).sum()).backward();
  CHECK(max_abs_diff(x.grad(), f.at("grad.x")) < 1e-5);
  CHECK(max_abs_diff(h0.grad(), f.at("grad.h0")) < 1e-5);
  CHECK(max_abs_diff(c0.grad(), f.at("grad.c0")) < 1e-5);
  for (auto& [name, p] : lstm.named_parameters()) {
    INFO(name);
    CHECK(max_abs_diff(p.grad(), f.at("grad." + name)) < 1e-5);
  }
}

TEST_CASE("lstm_cell: fused step equals the step composed from primitives", "[layers][lstm]") {
  nl::manual_seed(1);
  int64_t N = 3, H = 5;
  auto gates = nl::randn({N, 4 * H}, nl::f64), c_prev = nl::randn({N, H}, nl::f64);
  NormFn fused = [&](const std::vector<nl::Tensor>& in) { return nl::lstm_cell(in[0], in[1]); };
  NormFn composed = [&](const std::vector<nl::Tensor>& in) {
    auto a = in[0];
    auto i = nl::sigmoid(a.slice(1, 0, H)), f = nl::sigmoid(a.slice(1, H, 2 * H)), g = nl::tanh(a.slice(1, 2 * H, 3 * H)),
         o = nl::sigmoid(a.slice(1, 3 * H, 4 * H));
    auto c = f * in[1] + i * g;
    return nl::cat({o * nl::tanh(c), c}, 1);
  };
  require_fused_equals_reference(fused, composed, {gates, c_prev}, 1e-12);
  NormFn state_only = [&](const std::vector<nl::Tensor>& in) { return nl::lstm_cell_state(in[0], in[1]); };
  NormFn state_composed = [&](const std::vector<nl::Tensor>& in) { return composed(in).slice(1, H, 2 * H); };
  require_fused_equals_reference(state_only, state_composed, {gates, c_prev}, 1e-12);
}

TEST_CASE("lstm_cell: gradcheck of both fused steps", "[layers][lstm][gradcheck]") {
  nl::manual_seed(2);
  auto gates = nl::randn({2, 12}, nl::f64), c_prev = nl::randn({2, 3}, nl::f64);
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return nl::lstm_cell(in[0], in[1]); }, {gates, c_prev});
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return nl::lstm_cell_state(in[0], in[1]); }, {gates, c_prev});
}

TEST_CASE("LSTM: gradcheck of inputs and initial states for every cell", "[layers][lstm][gradcheck]") {
  for (LSTMCell cell : kCells) {
    INFO(cell_label(cell));
    nl::manual_seed(3);
    layers::LSTM lstm(2, 3, options_for(cell, 2));
    require_gradcheck(
        [&](const std::vector<nl::Tensor>& in) {
          auto out = lstm(in[0], in[1], in[2]);
          return out.output.sum({2}) + out.c_n.sum();
        },
        {nl::randn({3, 2, 2}, nl::f64), nl::randn({2, 2, 3}, nl::f64) * 0.5, nl::randn({2, 2, 3}, nl::f64) * 0.5});
  }
}

TEST_CASE("LSTM: parameter gradients match finite differences for every cell", "[layers][lstm][gradcheck]") {
  for (LSTMCell cell : kCells) {
    INFO(cell_label(cell));
    nl::manual_seed(4);
    layers::LSTM lstm(2, 3, options_for(cell));
    auto x = nl::randn({4, 3, 2}, nl::f64), weights = nl::randn({4, 3, 3}, nl::f64);
    require_parameter_gradients(lstm, [&] { return (lstm(x).tanh() * weights).sum(); });
  }
}

TEST_CASE("LSTM: causal — changing step t changes no output before t", "[layers][lstm]") {
  for (LSTMCell cell : kCells) {
    INFO(cell_label(cell));
    nl::manual_seed(5);
    layers::LSTM lstm(3, 4, options_for(cell));
    lstm.eval();  // BN: fixed statistics, so only the recurrence links steps
    auto x = nl::randn({6, 2, 3}, nl::f64);
    auto y = lstm(x);
    auto x2 = x.clone();
    x2.select(0, 4).fill_(7.0);
    auto y2 = lstm(x2);
    CHECK(max_abs_diff(y.slice(0, 0, 4), y2.slice(0, 0, 4)) == 0.0);
    CHECK(max_abs_diff(y.slice(0, 4, 6), y2.slice(0, 4, 6)) > 1e-3);
  }
}

TEST_CASE("LSTM: batch_first gives the same numbers transposed", "[layers][lstm]") {
  nl::manual_seed(6);
  layers::LSTM a(3, 4, options_for(LSTMCell::plain, 2)), b(3, 4, options_for(LSTMCell::plain, 2, true));
  b.load_state_dict(a.state_dict());
  auto x = nl::randn({5, 2, 3}, nl::f64);
  auto ya = a(x, {}, {}), yb = b(x.transpose(0, 1), {}, {});
  CHECK(yb.output.shape() == nl::Shape{2, 5, 4});
  CHECK(max_abs_diff(ya.output.transpose(0, 1), yb.output) == 0.0);
  CHECK(max_abs_diff(ya.h_n, yb.h_n) == 0.0);
  CHECK(ya.h_n.shape() == nl::Shape{2, 2, 4});
  // the last output of the last layer is h_n[-1]
  CHECK(max_abs_diff(ya.output.select(0, 4), ya.h_n.select(0, 1)) == 0.0);
}

TEST_CASE("LSTM layer_norm cell: each sequence's output does not depend on the batch", "[layers][lstm]") {
  nl::manual_seed(7);
  layers::LSTM lstm(3, 4, options_for(LSTMCell::layer_norm));
  auto x = nl::randn({5, 4, 3}, nl::f64);
  auto together = lstm(x);
  auto alone = lstm(x.slice(1, 1, 2));
  CHECK(max_abs_diff(together.slice(1, 1, 2), alone) < 1e-12);
  lstm.eval();
  CHECK(max_abs_diff(lstm(x), together) == 0.0);  // the same in eval
}

TEST_CASE("LSTM batch_norm cell: statistics per time step, last step's beyond max_steps", "[layers][lstm]") {
  nl::manual_seed(8);
  auto o = options_for(LSTMCell::batch_norm);
  o.max_steps = 3;
  layers::LSTM lstm(2, 3, o);
  auto x = nl::randn({3, 8, 2}, nl::f64);
  x.select(0, 2).mul_(5.0);  // step 2's inputs on another scale
  lstm(x);
  auto buffers = lstm.named_buffers();
  nl::Tensor running_var_ih;
  for (auto& [name, t] : buffers)
    if (name == "bn_ih_running_var_l0") running_var_ih = t;
  REQUIRE(running_var_ih.shape() == nl::Shape{3, 12});
  CHECK(running_var_ih.select(0, 2).mean().item<double>() > running_var_ih.select(0, 0).mean().item<double>());
  // training also depends on the batch; eval does not, and runs past max_steps
  lstm.eval();
  auto long_x = nl::randn({7, 2, 2}, nl::f64);
  nl::Tensor y;
  REQUIRE_NOTHROW(y = lstm(long_x));
  CHECK(y.shape() == nl::Shape{7, 2, 3});
  // steps 3..6 use slot 2's statistics: corrupting slots 0 and 1 changes only the early steps' direct normalization
  auto before = lstm(long_x);
  for (auto& [name, t] : lstm.named_buffers())
    if (name.find("running_mean") != std::string::npos) t.select(0, 2).add_(nl::full({t.size(1)}, 0.5, nl::f64));
  auto after = lstm(long_x);
  CHECK(max_abs_diff(before.slice(0, 6, 7), after.slice(0, 6, 7)) > 1e-6);
}

TEST_CASE("LSTM: parameter names per cell", "[layers][lstm]") {
  auto names = [](const layers::LSTM& m) {
    std::vector<std::string> out;
    for (auto& [n, p] : m.named_parameters()) out.push_back(n);
    return out;
  };
  CHECK(names(layers::LSTM(2, 3)) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"});
  CHECK(names(layers::LSTM(2, 3, options_for(LSTMCell::layer_norm))) ==
        std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "ln_ih_weight_l0", "ln_ih_bias_l0", "ln_hh_weight_l0",
                                 "ln_hh_bias_l0", "ln_c_weight_l0", "ln_c_bias_l0"});
  layers::LSTM bn(2, 3, options_for(LSTMCell::batch_norm));
  CHECK(names(bn) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bn_ih_weight_l0",
                                              "bn_hh_weight_l0", "bn_c_weight_l0", "bn_c_bias_l0"});
  CHECK(bn.named_buffers().size() == 6);
  CHECK(layers::LSTM(2, 3).to_string() == "LSTM(2, 3, num_layers=1, batch_first=false, cell=plain)");
}

TEST_CASE("LSTM: errors name the layer and the shapes", "[layers][lstm][errors]") {
  layers::LSTM lstm(3, 4);
  REQUIRE_THROWS_WITH(lstm(nl::randn({5, 2, 2})), Catch::Contains("LSTM: expected input (T, N, 3)") && Catch::Contains("[5,2,2]"));
  REQUIRE_THROWS_WITH(lstm(nl::randn({5, 2, 3}), nl::zeros({1, 3, 4}), {}), Catch::Contains("initial states must be (1, 2, 4)"));
  REQUIRE_THROWS_WITH(layers::LSTM(0, 4), Catch::Contains("sizes must be > 0"));
  REQUIRE_THROWS_WITH(nl::lstm_cell(nl::zeros({2, 7}), nl::zeros({2, 2})), Catch::Contains("lstm_cell") && Catch::Contains("[2,7]"));
}

TEST_CASE("LSTM: a sequence fed in pieces with start_step equals it fed whole, for every cell", "[layers][lstm]") {
  for (LSTMCell cell : kCells) {
    INFO(cell_label(cell));
    nl::manual_seed(9);
    auto o = options_for(cell, 2);
    o.max_steps = 4;
    layers::LSTM lstm(3, 4, o);
    lstm(nl::randn({6, 5, 3}, nl::f64));  // BN: give each step its own running statistics
    lstm.eval();
    auto x = nl::randn({6, 2, 3}, nl::f64);
    auto whole = lstm(x, {}, {});
    auto first = lstm(x.slice(0, 0, 2), {}, {});
    auto second = lstm(x.slice(0, 2, 6), first.h_n, first.c_n, /*start_step=*/2);
    CHECK(max_abs_diff(nl::cat({first.output, second.output}, 0), whole.output) < 1e-12);
    CHECK(max_abs_diff(second.h_n, whole.h_n) < 1e-12);
    if (cell == LSTMCell::batch_norm) {  // without start_step the second piece would reuse steps 0.. statistics
      auto restarted = lstm(x.slice(0, 2, 6), first.h_n, first.c_n);
      CHECK(max_abs_diff(restarted.output, second.output) > 1e-6);
    }
  }
  layers::LSTM lstm(3, 4, options_for(LSTMCell::plain));
  REQUIRE_THROWS_WITH(lstm(nl::randn({2, 1, 3}, nl::f64), {}, {}, -1), Catch::Contains("start_step must be >= 0"));
}

// Module: registration, dotted names, train/eval, state_dict round trips and
// load errors, zero_grad, to(dtype), printing; Sequential.
#include <catch2/catch.hpp>

#include "normlab.h"

namespace layers = nl::layers;

namespace {
// A two-level model: the shape of the README's examples.
class Block : public layers::Layer<Block> {
 public:
  Block() : Layer("Block") {
    fc = register_module("fc", std::make_shared<layers::Linear>(4, 3));
    norm = register_module("norm", std::make_shared<layers::BatchNorm1d>(3));
  }
  std::shared_ptr<layers::Linear> fc;
  std::shared_ptr<layers::BatchNorm1d> norm;

 protected:
  friend Layer<Block>;
  nl::Tensor forward(const nl::Tensor& x) override { return nl::relu((*norm)((*fc)(x))); }
};

class Net : public layers::Layer<Net> {
 public:
  Net() : Layer("Net") {
    block = register_module("block", std::make_shared<Block>());
    head = register_module("head", std::make_shared<layers::Linear>(3, 2, false));
    register_parameter("scale", scale = nl::ones({1}));
  }
  std::shared_ptr<Block> block;
  std::shared_ptr<layers::Linear> head;
  nl::Tensor scale;

 protected:
  friend Layer<Net>;
  nl::Tensor forward(const nl::Tensor& x) override { return (*head)((*block)(x)) * scale; }
};

std::vector<std::string> names(const layers::Named<nl::Tensor>& named) {
  std::vector<std::string> out;
  for (auto& [name, t] : named) out.push_back(name);
  return out;
}
}  // namespace

TEST_CASE("Module: named_parameters uses dotted paths in registration order", "[layers][module]") {
  Net net;
  CHECK(names(net.named_parameters()) == std::vector<std::string>{"scale", "block.fc.weight", "block.fc.bias",
                                                                  "block.norm.weight", "block.norm.bias",
                                                                  "head.weight"});
  CHECK(names(net.named_buffers()) == std::vector<std::string>{"block.norm.running_mean", "block.norm.running_var",
                                                               "block.norm.num_batches_tracked"});
  CHECK(net.parameters().size() == 6);
  CHECK(net.num_parameters() == 1 + 12 + 3 + 3 + 3 + 6);
}

TEST_CASE("Module: parameters are the members themselves (leaves requiring grad)", "[layers][module]") {
  Net net;
  auto params = net.parameters();
  CHECK(params[1].is_same(net.block->fc->weight));
  for (auto& p : params) {
    CHECK(p.requires_grad());
    CHECK(p.is_leaf());
  }
}

TEST_CASE("Module: train() and eval() reach every submodule", "[layers][module]") {
  Net net;
  CHECK(net.block->norm->is_training());
  net.eval();
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.block->norm->is_training());
  net.train();
  CHECK(net.block->fc->is_training());
}

TEST_CASE("Module: backward fills .grad of every parameter, zero_grad clears them", "[layers][module]") {
  nl::manual_seed(1);
  Net net;
  net(nl::randn({5, 4})).sum().backward();
  for (auto& [name, p] : net.named_parameters()) {
    INFO(name);
    CHECK(p.grad().defined());
  }
  net.zero_grad();
  for (auto& p : net.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("Module: state_dict shares storage and round-trips into a fresh model", "[layers][module]") {
  nl::manual_seed(2);
  Net a;
  a(nl::randn({6, 4}));  // moves BatchNorm's running stats
  nl::manual_seed(3);
  Net b;
  auto x = nl::randn({3, 4});
  a.eval();
  b.eval();
  auto state = a.state_dict();
  CHECK(state.size() == 9);
  CHECK(state.at("block.fc.weight").storage() == a.block->fc->weight.storage());
  b.load_state_dict(state);
  CHECK(b(x).to_vector<float>() == a(x).to_vector<float>());
  CHECK(b.block->norm->num_batches_tracked.item<int64_t>() == 1);
  // b's tensors are still its own (values were copied in)
  CHECK(b.block->fc->weight.storage() != a.block->fc->weight.storage());
}

TEST_CASE("Module: load_state_dict lists missing, unexpected and mis-shaped keys", "[layers][module][errors]") {
  Net net;
  auto state = net.state_dict();
  auto missing = state;
  missing.erase("head.weight");
  REQUIRE_THROWS_WITH(net.load_state_dict(missing), Catch::Contains("missing keys head.weight"));
  auto unexpected = state;
  unexpected["head.bias"] = nl::zeros({2});
  REQUIRE_THROWS_WITH(net.load_state_dict(unexpected), Catch::Contains("unexpected keys head.bias"));
  auto misshaped = state;
  misshaped["block.fc.weight"] = nl::zeros({4, 3});
  REQUIRE_THROWS_WITH(net.load_state_dict(misshaped),
                      Catch::Contains("size mismatch for block.fc.weight (checkpoint [4,3], model [3,4])"));

  // Not strict: what matches is loaded, the rest left alone. Into freshly built
  // models (their own storage, unlike net's state above), from values no fresh
  // Net holds (10, 11, ... per key), so every tensor shows whether it was loaded.
  nl::StateDict distinct;
  double value = 10;
  for (auto& [name, t] : state) distinct[name] = nl::full(t.shape(), value++, t.dtype());
  auto require_loaded_except = [&](const Net& model, const std::string& kept, const std::vector<float>& kept_before) {
    for (auto& [name, t] : model.state_dict()) {
      INFO(name);
      if (name == kept)
        CHECK(t.to_vector<float>() == kept_before);  // not in the checkpoint: its initial value
      else
        CHECK(t.to(nl::f64).to_vector<double>() == distinct.at(name).to(nl::f64).to_vector<double>());
    }
  };
  missing = distinct;
  missing.erase("head.weight");
  Net fresh;
  std::vector<float> head_before = fresh.head->weight.to_vector<float>();
  CHECK_NOTHROW(fresh.load_state_dict(missing, /*strict=*/false));
  require_loaded_except(fresh, "head.weight", head_before);

  unexpected = distinct;
  unexpected["head.bias"] = nl::zeros({2});
  Net fresh2;
  CHECK_NOTHROW(fresh2.load_state_dict(unexpected, /*strict=*/false));
  require_loaded_except(fresh2, "", {});  // every key loaded, head.bias ignored
  CHECK(fresh2.state_dict().count("head.bias") == 0);
}

TEST_CASE("Module: a failed load_state_dict changes nothing", "[layers][module]") {
  Net net;
  auto before = net.block->fc->weight.to_vector<float>();
  auto state = net.state_dict();
  state["block.fc.weight"] = nl::zeros({3, 4});
  state["head.weight"] = nl::zeros({5, 5});
  REQUIRE_THROWS(net.load_state_dict(state));
  CHECK(net.block->fc->weight.to_vector<float>() == before);
}

TEST_CASE("Module: load_state_dict converts dtype", "[layers][module]") {
  layers::Linear fc(2, 2);
  nl::StateDict state{{"weight", nl::from_vector<double>({1, 2, 3, 4}, {2, 2})},
                      {"bias", nl::from_vector<double>({5, 6})}};
  fc.load_state_dict(state);
  CHECK(fc.weight.dtype() == nl::f32);
  CHECK(fc.weight.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("Module: to(float64) converts floating parameters and buffers only", "[layers][module]") {
  Net net;
  net.to(nl::f64);
  for (auto& [name, p] : net.named_parameters()) {
    INFO(name);
    CHECK(p.dtype() == nl::f64);
    CHECK(p.requires_grad());
  }
  CHECK(net.block->norm->running_var.dtype() == nl::f64);
  CHECK(net.block->norm->num_batches_tracked.dtype() == nl::i64);
  CHECK(net(nl::randn({3, 4}, nl::f64)).dtype() == nl::f64);
  REQUIRE_THROWS_WITH(net.to(nl::i64), Catch::Contains("float32 or float64"));
}

TEST_CASE("Module: registration errors", "[layers][module][errors]") {
  struct Bad : layers::Layer<Bad> {
    explicit Bad(int which) : Layer("Bad") {
      if (which == 0) register_parameter("a.b", t = nl::ones({1}));
      if (which == 1) {
        register_parameter("w", t = nl::ones({1}));
        register_buffer("w", u = nl::ones({1}));
      }
      if (which == 2) register_parameter("idx", t = nl::zeros({1}, nl::i64));
      if (which == 3) register_module<layers::Linear>("fc", nullptr);
    }
    nl::Tensor t, u;
  };
  REQUIRE_THROWS_WITH(Bad(0), Catch::Contains("without '.'"));
  REQUIRE_THROWS_WITH(Bad(1), Catch::Contains("already registered"));
  REQUIRE_THROWS_WITH(Bad(2), Catch::Contains("must be floating"));
  REQUIRE_THROWS_WITH(Bad(3), Catch::Contains("null"));
}

TEST_CASE("Module: modules without a one-tensor forward say so", "[layers][module][errors]") {
  layers::MSELoss loss;
  layers::Module& base = loss;
  REQUIRE_THROWS_WITH(base(nl::zeros({1})), Catch::Contains("MSELoss"));
}

TEST_CASE("Module: to_string prints the tree like PyTorch", "[layers][module]") {
  Net net;
  CHECK(net.to_string() ==
        "Net(\n"
        "  (block): Block(\n"
        "    (fc): Linear(in_features=4, out_features=3, bias=true)\n"
        "    (norm): BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)\n"
        "  )\n"
        "  (head): Linear(in_features=3, out_features=2, bias=false)\n"
        ")");
}

TEST_CASE("Sequential: runs modules in order with names 0, 1, ...", "[layers][sequential]") {
  nl::manual_seed(4);
  layers::Sequential seq{std::make_shared<layers::Linear>(3, 5), std::make_shared<layers::Tanh>(),
                         std::make_shared<layers::Linear>(5, 2)};
  CHECK(seq.size() == 3);
  CHECK(names(seq.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  auto x = nl::randn({4, 3});
  auto first = std::static_pointer_cast<layers::Linear>(seq[0]);
  auto last = std::static_pointer_cast<layers::Linear>(seq[2]);
  auto expected = (*last)(nl::tanh((*first)(x)));
  CHECK(seq(x).to_vector<float>() == expected.to_vector<float>());
}

// models::MLP: the layer order for each NormKind, and errors.
#include <catch2/catch.hpp>

#include "normlab.h"

using nl::models::MLP;
using nl::models::NormKind;

TEST_CASE("MLP: Linear, norm, activation per hidden layer, the output layer bare", "[models][mlp]") {
  auto types = [](const MLP& m) {
    std::vector<std::string> out;
    for (auto& [name, child] : m.named_children()) out.push_back(child->type_name());
    return out;
  };
  CHECK(types(MLP({4, 8, 8, 3}, NormKind::none)) ==
        std::vector<std::string>{"Linear", "ReLU", "Linear", "ReLU", "Linear"});
  CHECK(types(MLP({4, 8, 3}, NormKind::batch, "tanh")) ==
        std::vector<std::string>{"Linear", "BatchNorm1d", "Tanh", "Linear"});
  CHECK(types(MLP({4, 8, 3}, NormKind::layer, "gelu")) ==
        std::vector<std::string>{"Linear", "LayerNorm", "GELU", "Linear"});
  CHECK(types(MLP({4, 8, 3}, NormKind::rms)) == std::vector<std::string>{"Linear", "RMSNorm", "ReLU", "Linear"});
  CHECK(types(MLP({4, 8, 3}, NormKind::renorm)) ==
        std::vector<std::string>{"Linear", "BatchRenorm1d", "ReLU", "Linear"});
  CHECK(nl::models::parse_norm_kind("renorm") == NormKind::renorm);
  MLP m({784, 256, 256, 10}, NormKind::layer);
  CHECK(m.num_parameters() == 784 * 256 + 256 + 2 * 256 + 256 * 256 + 256 + 2 * 256 + 256 * 10 + 10);
  CHECK(m(nl::randn({5, 784})).shape() == nl::Shape{5, 10});
  CHECK(nl::models::parse_norm_kind("rms") == NormKind::rms);
  REQUIRE_THROWS_WITH(MLP({4}), Catch::Contains("MLP: need at least an input and an output size"));
  REQUIRE_THROWS_WITH(MLP({4, 2}, NormKind::none, "swish"), Catch::Contains("activation must be"));
  REQUIRE_THROWS_WITH(nl::models::parse_norm_kind("group"), Catch::Contains("none, batch, layer, rms or renorm"));
}

// The InstanceNorm modules: PyTorch's defaults, names and buffers, parity with
// nn.InstanceNorm2d (affine with tracked statistics: training then eval; and
// the defaults, whose eval normalizes as training), InstanceNorm1d, and
// errors. The op is tested in tests/core/ops/test_instance_norm.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"
#include "tests/layers/image_norm_fixture.h"

using namespace normlab_test;
namespace layers = nl::layers;

TEST_CASE("InstanceNorm2d: PyTorch's defaults, names and printing", "[layers][instance_norm]") {
  layers::InstanceNorm2d plain(4);
  CHECK(plain.parameters().empty());
  CHECK(plain.state_dict().empty());
  CHECK(plain.to_string() == "InstanceNorm2d(4, eps=1e-05, momentum=0.1, affine=false, track_running_stats=false)");
  layers::InstanceNorm2d full(4, 1e-5, 0.1, true, true);
  std::vector<std::string> keys;
  for (auto& [k, v] : full.state_dict()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"bias", "num_batches_tracked", "running_mean", "running_var", "weight"});
  CHECK(full.weight.to_vector<float>() == std::vector<float>(4, 1.0f));
  CHECK(full.running_var.to_vector<float>() == std::vector<float>(4, 1.0f));
}

TEST_CASE("InstanceNorm2d: PyTorch parity (nn.InstanceNorm2d), float64 and float32",
          "[layers][instance_norm][pytorch]") {
  layers::InstanceNorm2d tracked(4, 1e-5, 0.1, true, true, nl::f64);
  require_matches_image_fixture(tracked, "in2d_f64", {"train1", "eval"}, 1e-10);
  CHECK(tracked.num_batches_tracked.item<int64_t>() == 0);  // as PyTorch: kept, not advanced
  layers::InstanceNorm2d tracked32(4, 1e-5, 0.1, true, true);
  require_matches_image_fixture(tracked32, "in2d_f32", {"train1", "eval"}, 2e-5);
  layers::InstanceNorm2d plain(4, 1e-5, 0.1, false, false, nl::f64);
  require_matches_image_fixture(plain, "in2d_plain_f64", {"eval"}, 1e-10);
}

TEST_CASE("InstanceNorm1d on (N, C, L), use_reference, and errors", "[layers][instance_norm]") {
  nl::manual_seed(4);
  layers::InstanceNorm1d in(3, 1e-5, 0.1, true, true, nl::f64);
  layers::InstanceNorm1d twin(3, 1e-5, 0.1, true, true, nl::f64);
  twin.use_reference = true;
  auto x = nl::randn({2, 3, 7}, nl::f64) * 2.0 + 1.0;
  CHECK(max_abs_diff(in(x), twin(x)) < 1e-12);
  CHECK(max_abs_diff(in.running_mean, twin.running_mean) < 1e-14);
  in.eval();
  twin.eval();
  CHECK(max_abs_diff(in(x), twin(x)) < 1e-12);
  REQUIRE_THROWS_WITH(in(nl::randn({2, 3, 4, 4}, nl::f64)),
                      Catch::Contains("InstanceNorm1d: expected input (N, C, L) with C = 3, got [2,3,4,4]"));
  REQUIRE_THROWS_WITH(layers::InstanceNorm2d(3)(nl::randn({2, 3, 4})), Catch::Contains("(N, C, H, W)"));
  REQUIRE_THROWS_WITH(layers::InstanceNorm2d(0), Catch::Contains("num_features"));
  REQUIRE_THROWS_WITH(layers::InstanceNorm2d(3, 1e-5, 1.5), Catch::Contains("momentum"));
}

// batch_norm with a cross-process sum (the path nl::dist::SyncBatchNorm
// takes), tested in one process: a "sum over processes" that doubles every
// value acts like a second process holding the same shard, so the result must
// be that of the batch concatenated with itself.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using nl::Tensor;
using normlab_test::max_abs_diff;

namespace {
struct Run {
  Tensor y, dx, dw, db, running_mean, running_var;
};

Run run(const Tensor& x_in, const Tensor& upstream, const nl::CrossProcessSum& sum) {
  int64_t C = x_in.shape()[1];
  Tensor x = x_in.detach().clone().requires_grad_(true);
  Tensor w = (nl::rand({C}, nl::f64) + 0.5).requires_grad_(true);
  Tensor b = nl::rand({C}, nl::f64).requires_grad_(true);
  Run r{Tensor(), Tensor(), Tensor(), Tensor(), nl::zeros({C}, nl::f64), nl::ones({C}, nl::f64)};
  r.y = nl::batch_norm(x, r.running_mean, r.running_var, w, b, true, 0.1, 1e-5, sum);
  r.y.backward(upstream);
  r.dx = x.grad();
  r.dw = w.grad();
  r.db = b.grad();
  return r;
}
}  // namespace

TEST_CASE("batch_norm across processes: two equal shards give the statistics and gradients of the doubled batch",
          "[ops][batch_norm]") {
  for (nl::Shape shape : {nl::Shape{6, 5}, nl::Shape{4, 3, 7}}) {
    INFO("input " << fmt::format("{}", shape));
    nl::manual_seed(2);
    Tensor x = nl::randn(shape, nl::f64) * 3.0 + 1.0, g = nl::randn(shape, nl::f64);
    std::vector<int64_t> sizes;
    auto twice = [&](double* values, int64_t n) {
      sizes.push_back(n);
      for (int64_t i = 0; i < n; ++i) values[i] *= 2;
    };
    nl::manual_seed(9);
    Run shard = run(x, g, twice);
    nl::manual_seed(9);
    Run doubled = run(nl::cat({x, x}, 0), nl::cat({g, g}, 0), nl::CrossProcessSum());

    int64_t N = shape[0], C = shape[1];
    CHECK(sizes == std::vector<int64_t>{1 + 2 * C, 2 * C});  // one packed call forward, one backward
    CHECK(max_abs_diff(shard.y, doubled.y.slice(0, 0, N)) < 1e-12);
    CHECK(max_abs_diff(shard.dx, doubled.dx.slice(0, 0, N)) < 1e-12);
    CHECK(max_abs_diff(shard.dw * 2.0, doubled.dw) < 1e-12);  // parameter gradients stay local
    CHECK(max_abs_diff(shard.db * 2.0, doubled.db) < 1e-12);
    CHECK(max_abs_diff(shard.running_mean, doubled.running_mean) < 1e-12);
    CHECK(max_abs_diff(shard.running_var, doubled.running_var) < 1e-12);  // Bessel with the global count
  }
}

TEST_CASE("batch_norm across processes: one value per channel over all processes is an error", "[ops][batch_norm]") {
  Tensor x = nl::randn({1, 3}, nl::f64);
  auto alone = [](double*, int64_t) {};  // a world where no other process adds anything
  CHECK_THROWS_WITH(nl::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, alone),
                    Catch::Contains("expected more than 1 value per channel over all processes"));
  auto two = [](double* values, int64_t n) {
    for (int64_t i = 0; i < n; ++i) values[i] *= 2;
  };
  CHECK_NOTHROW(nl::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, two));
}

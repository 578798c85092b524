// Batching (data/data_loader.h): permutations deterministic in (seed, epoch),
// unbiased, every sample once per epoch, inputs and targets kept together,
// the last partial batch kept or dropped.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <numeric>
#include <set>

#include "tests/data/data_test_helpers.h"

using Catch::Contains;
using nl_test::error_of;

namespace {
bool is_permutation_of_range(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] != int64_t(i)) return false;
  return true;
}
}  // namespace

TEST_CASE("shuffled_indices: a permutation fixed by (seed, epoch), different for other seeds and epochs",
          "[data][loader]") {
  std::vector<int64_t> a = nl::data::shuffled_indices(1000, 7, 0);
  CHECK(is_permutation_of_range(a));
  CHECK(a == nl::data::shuffled_indices(1000, 7, 0));
  CHECK(a != nl::data::shuffled_indices(1000, 8, 0));
  CHECK(a != nl::data::shuffled_indices(1000, 7, 1));
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), int64_t(0));
  CHECK(a != identity);
  // the global generator neither changes it nor is changed by it
  nl::manual_seed(1);
  nl::Tensor before = nl::rand({3});
  nl::manual_seed(1);
  CHECK(nl::data::shuffled_indices(1000, 7, 0) == a);
  CHECK(nl::rand({3}).to_vector<float>() == before.to_vector<float>());
  CHECK(nl::data::shuffled_indices(0, 1, 0).empty());
  CHECK(nl::data::shuffled_indices(1, 1, 5) == std::vector<int64_t>{0});
}

TEST_CASE("shuffled_indices: all 6 orders of 3 items are equally likely", "[data][loader]") {
  // Fisher–Yates is uniform; the classic bug (j drawn from [0, n) every step) is not.
  std::map<std::vector<int64_t>, int> counts;
  constexpr int kEpochs = 6000;
  for (int e = 0; e < kEpochs; ++e) ++counts[nl::data::shuffled_indices(3, 42, e)];
  REQUIRE(counts.size() == 6);
  double chi2 = 0;
  for (auto& [order, count] : counts) chi2 += std::pow(count - kEpochs / 6.0, 2) / (kEpochs / 6.0);
  CHECK(chi2 < 20.5);  // χ² with 5 degrees of freedom: P(> 20.5) ≈ 0.001
}

TEST_CASE("DataLoader: every sample once per epoch, rows of inputs and targets together", "[data][loader]") {
  int64_t n = 10;
  nl::Tensor inputs = nl::arange(0, double(n * 3), 1, nl::f32).reshape({n, 3});  // row i = 3i, 3i+1, 3i+2
  nl::Tensor targets = nl::arange(n);
  nl::data::DataLoader loader(inputs, targets, {.batch_size = 4, .shuffle = true, .seed = 3});
  CHECK(loader.size() == 3);
  std::vector<int64_t> orders[2];
  for (int64_t epoch : {0, 1}) {
    loader.set_epoch(epoch);
    std::vector<int64_t> sizes;
    for (const nl::data::Batch& batch : loader) {
      sizes.push_back(batch.targets.numel());
      std::vector<int64_t> t = batch.targets.to_vector<int64_t>();
      std::vector<float> x = batch.inputs.to_vector<float>();
      CHECK(batch.inputs.shape() == nl::Shape{int64_t(t.size()), 3});
      CHECK(t == batch.indices);
      for (size_t i = 0; i < t.size(); ++i) CHECK(x[3 * i + 1] == float(3 * t[i] + 1));
      orders[epoch].insert(orders[epoch].end(), t.begin(), t.end());
    }
    CHECK(sizes == std::vector<int64_t>{4, 4, 2});  // the last, partial batch is kept
    CHECK(is_permutation_of_range(orders[epoch]));
    CHECK(orders[epoch] == nl::data::shuffled_indices(n, 3, epoch));
  }
  CHECK(orders[0] != orders[1]);
  loader.set_epoch(0);  // going back gives the same order again
  CHECK(loader[2].indices == std::vector<int64_t>(orders[0].begin() + 8, orders[0].end()));
}

TEST_CASE("DataLoader: drop_last drops the partial batch, no shuffle keeps the order", "[data][loader]") {
  nl::Tensor inputs = nl::randn({10, 2}), targets = nl::arange(10);
  nl::data::DataLoader dropping(inputs, targets, {.batch_size = 4, .shuffle = true, .seed = 1, .drop_last = true});
  CHECK(dropping.size() == 2);
  std::set<int64_t> seen;
  for (const nl::data::Batch& batch : dropping) {
    CHECK(batch.targets.numel() == 4);
    for (int64_t i : batch.indices) CHECK(seen.insert(i).second);  // no repeats
  }
  nl::data::DataLoader exact(inputs, targets, {.batch_size = 5, .drop_last = true});
  CHECK(exact.size() == 2);  // nothing to drop when batch_size divides n

  nl::data::DataLoader ordered(inputs, targets, {.batch_size = 3});
  CHECK(ordered.size() == 4);
  CHECK(ordered[1].indices == std::vector<int64_t>{3, 4, 5});
  CHECK(ordered[3].indices == std::vector<int64_t>{9});
  CHECK(ordered[1].inputs.to_vector<float>() == inputs.slice(0, 3, 6).to_vector<float>());
}

TEST_CASE("DataLoader and gather_rows: bad arguments are errors", "[data][loader]") {
  nl::Tensor x = nl::randn({4, 2});
  CHECK_THAT(error_of([&] { nl::data::DataLoader(x, nl::arange(3), {.batch_size = 2}); }),
             Contains("must have the same size along dim 0"));
  CHECK_THAT(error_of([&] { nl::data::DataLoader(x, nl::arange(4), {.batch_size = 0}); }),
             Contains("batch_size must be >= 1"));
  nl::data::DataLoader loader(x, nl::arange(4), {.batch_size = 2});
  CHECK_THAT(error_of([&] { loader[2]; }), Contains("batch 2 out of range (an epoch has 2 batches)"));
  CHECK_THAT(error_of([&] { nl::data::gather_rows(x, {0, 4}); }), Contains("index 4 out of range for 4 rows"));
  CHECK(nl::data::gather_rows(x.t(), {1}).to_vector<float>() == x.select(1, 1).to_vector<float>());  // strided input
}

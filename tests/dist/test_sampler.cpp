// DistributedSampler, as torch.utils.data.DistributedSampler: padding,
// drop_last, rank striding, the same shuffle on every rank. Uses explicit
// num_replicas and rank, so it runs in any world.
#include <algorithm>
#include <numeric>

#include "dist_test_helpers.h"

namespace dist = nl::dist;
using Indices = std::vector<int64_t>;

namespace {
std::vector<Indices> all_ranks(int64_t size, int replicas, dist::DistributedSamplerOptions options) {
  std::vector<Indices> out;
  for (int r = 0; r < replicas; ++r) {
    options.num_replicas = replicas;
    options.rank = r;
    out.push_back(dist::DistributedSampler(size, options).indices());
  }
  return out;
}
}  // namespace

TEST_CASE("DistributedSampler without shuffle pads from the front, or drops the tail, then strides by rank") {
  // as PyTorch: 10 samples on 4 replicas, indices 0..9 + [0, 1], rank r takes r, r+4, r+8
  CHECK(all_ranks(10, 4, {.shuffle = false}) == std::vector<Indices>{{0, 4, 8}, {1, 5, 9}, {2, 6, 0}, {3, 7, 1}});
  CHECK(all_ranks(10, 4, {.shuffle = false, .drop_last = true}) ==
        std::vector<Indices>{{0, 4}, {1, 5}, {2, 6}, {3, 7}});
  CHECK(all_ranks(2, 4, {.shuffle = false}) == std::vector<Indices>{{0}, {1}, {0}, {1}});
  CHECK(all_ranks(3, 4, {.shuffle = false, .drop_last = true}) == std::vector<Indices>{{}, {}, {}, {}});
  dist::DistributedSampler s(10, {.num_replicas = 4, .rank = 1});
  CHECK(s.num_samples() == 3);
  CHECK(s.total_size() == 12);
}

TEST_CASE("DistributedSampler shuffles the same way on every rank, differently each epoch") {
  std::vector<Indices> shards = all_ranks(128, 2, {.seed = 7});
  Indices together = shards[0];
  together.insert(together.end(), shards[1].begin(), shards[1].end());
  std::sort(together.begin(), together.end());
  Indices everything(128);
  std::iota(everything.begin(), everything.end(), 0);
  CHECK(together == everything);  // a partition of the dataset
  Indices identity(64);
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(shards[0] != Indices(everything.begin(), everything.begin() + 64));  // shuffled

  dist::DistributedSampler a(128, {.seed = 7, .num_replicas = 2, .rank = 0});
  CHECK(a.indices() == shards[0]);  // deterministic
  a.set_epoch(1);
  CHECK(a.indices() != shards[0]);
  CHECK(dist::random_permutation(5, 3) == dist::random_permutation(5, 3));
  CHECK(dist::random_permutation(0, 3).empty());
}

TEST_CASE("DistributedSampler: bad arguments are clear errors") {
  CHECK_THROWS_WITH(dist::DistributedSampler(10, {.num_replicas = 2, .rank = 2}),
                    Catch::Contains("rank 2 is not in [0, 2)"));
  CHECK_THROWS_WITH(dist::DistributedSampler(10, {.num_replicas = 0, .rank = 0}),
                    Catch::Contains("num_replicas must be >= 1"));
  CHECK_THROWS_WITH(dist::DistributedSampler(-1), Catch::Contains("dataset size must be >= 0"));
  CHECK_THROWS_WITH(dist::DistributedSampler(0), Catch::Contains("the dataset is empty"));
}

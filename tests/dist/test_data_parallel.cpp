// Two processes × 64 samples against one process × 128 (tests/dist/main.cpp
// runs these under `mpirun -np 2`): SyncBatchNorm and LayerNorm reproduce the
// single-process step; BatchNorm1d with local statistics does not.
#include "dist_test_helpers.h"

using namespace dist_test;
namespace dist = nl::dist;

TEST_CASE("SyncBatchNorm: 2 processes × 64 give the loss, gradients and running statistics of 1 × 128", "[np2]") {
  dist::require_world_size(2, "this test");
  Batch data = make_data(3);
  Step reference = reference_step(Norm::sync_batch, data);
  auto model = make_model(Norm::sync_batch);
  dist::DataParallel ddp(*model);
  dist::CommStats before = dist::stats();
  Step step = distributed_step(*model, ddp, data);
  dist::CommStats traffic = dist::stats() - before;

  CHECK(step.loss == Approx(reference.loss).epsilon(1e-6));
  CHECK(max_error(step.grads, reference.grads) < 1e-4);
  CHECK(max_error(step.buffers, reference.buffers) < 1e-5);  // running_mean, running_var
  // forward [count | Σx | Σx²] and backward [Σdy | Σdy·xhat] in doubles, one call each
  CHECK(traffic.normalization.calls == 2);
  CHECK(traffic.normalization.bytes == (1 + 2 * kHidden) * 8 + 2 * kHidden * 8);
  // every gradient in one float32 bucket
  CHECK(traffic.gradients.calls == 1);
  CHECK(traffic.gradients.bytes == model->num_parameters() * 4);
  CHECK(ddp.num_buckets() == 1);
  CHECK(ddp.buffers_in_sync());
}

TEST_CASE("BatchNorm1d under data parallel keeps local statistics: it does not reproduce 1 × 128", "[np2]") {
  dist::require_world_size(2, "this test");
  Batch data = make_data(3);
  Step reference = reference_step(Norm::batch, data);
  auto model = make_model(Norm::batch);
  dist::DataParallel ddp(*model);
  dist::CommStats before = dist::stats();
  Step step = distributed_step(*model, ddp, data);
  dist::CommStats traffic = dist::stats() - before;

  CHECK(std::abs(step.loss - reference.loss) > 1e-4);
  CHECK(max_error(step.grads, reference.grads) > 1e-2);
  CHECK(max_error(step.buffers, reference.buffers) > 1e-2);
  CHECK_FALSE(ddp.buffers_in_sync());  // each rank's running statistics follow its own shard
  CHECK(traffic.normalization.calls == 0);
  ddp.broadcast_buffers();  // what to do before evaluating or saving on every rank
  CHECK(ddp.buffers_in_sync());
}

TEST_CASE("LayerNorm under data parallel reproduces 1 × 128 with no normalization traffic", "[np2]") {
  dist::require_world_size(2, "this test");
  Batch data = make_data(3);
  Step reference = reference_step(Norm::layer, data);
  auto model = make_model(Norm::layer);
  dist::DataParallel ddp(*model);
  dist::CommStats before = dist::stats();
  Step step = distributed_step(*model, ddp, data);
  dist::CommStats traffic = dist::stats() - before;

  CHECK(step.loss == Approx(reference.loss).epsilon(1e-6));
  CHECK(max_error(step.grads, reference.grads) < 1e-4);
  CHECK(traffic.normalization.calls == 0);
  CHECK(traffic.normalization.bytes == 0);
  CHECK(traffic.gradients.calls == 1);
}

TEST_CASE("after N optimizer steps every rank holds identical parameters", "[np2]") {
  dist::require_world_size(2, "this test");
  Batch data = make_data(5);
  for (Norm norm : {Norm::sync_batch, Norm::batch, Norm::layer}) {
    // different initial weights on each rank: DataParallel starts them from rank 0's
    auto model = make_model(norm, /*seed=*/11 + uint64_t(dist::rank()));
    dist::DataParallel ddp(*model);
    CHECK(ddp.parameters_in_sync());
    nl::optim::SGD optimizer(model->parameters(), {.lr = 0.1, .momentum = 0.9});
    dist::DistributedSampler sampler(kSamples, {.seed = 9});
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      sampler.set_epoch(epoch);
      std::vector<int64_t> mine = sampler.indices();
      for (size_t i = 0; i + 16 <= mine.size(); i += 16) {  // 4 steps of 2 × 16 per epoch
        Batch shard = rows(data, std::vector<int64_t>(mine.begin() + i, mine.begin() + i + 16));
        optimizer.zero_grad();
        nl::cross_entropy((*model)(shard.x), shard.y).backward();
        ddp.average_gradients();
        optimizer.step();
      }
    }
    INFO("norm " << int(norm));
    CHECK(ddp.parameters_in_sync());
    CHECK(ddp.buffers_in_sync() == (norm != Norm::batch));
    // and the same seen directly: rank 0's values against this rank's, bitwise
    for (const Tensor& p : model->parameters()) {
      std::vector<float> mine_values = p.to_vector<float>(), rank0 = mine_values;
      dist::broadcast(rank0.data(), int64_t(rank0.size() * sizeof(float)), 0, dist::Traffic::other);
      CHECK(mine_values == rank0);
    }
  }
}

TEST_CASE("parameters_in_sync notices a rank that drifted", "[np2]") {
  dist::require_world_size(2, "this test");
  auto model = make_model(Norm::layer);
  dist::DataParallel ddp(*model);
  CHECK(ddp.parameters_in_sync());
  if (dist::rank() == 1) {
    nl::NoGradGuard no_grad;
    model->parameters()[0].add_(nl::ones({kHidden, kFeatures}), 1e-3);
  }
  CHECK_FALSE(ddp.parameters_in_sync());
  ddp.broadcast_parameters();
  CHECK(ddp.parameters_in_sync());
}

TEST_CASE("a model that differs across ranks is a clear error on every rank, not a hang", "[np2]") {
  dist::require_world_size(2, "this test");
  auto model = std::make_shared<nl::layers::Linear>(4, dist::rank() == 0 ? 3 : 5);
  CHECK_THROWS_WITH(dist::DataParallel(*model), Catch::Contains("the model differs across ranks"));
}

TEST_CASE("a world of the wrong size is a clear error on every rank", "[np2]") {
  dist::require_world_size(2, "this test");
  CHECK_THROWS_WITH(dist::require_world_size(3, "train_it"),
                    Catch::Contains("train_it needs 3 processes, got 2: run it as `mpirun -np 3"));
}

TEST_CASE("gradients travel in buckets of at most bucket_bytes, one allreduce each", "[np2]") {
  dist::require_world_size(2, "this test");
  Batch data = make_data(3);
  Step reference = reference_step(Norm::layer, data);
  auto model = make_model(Norm::layer);
  // In bytes: w1 512, b1 64, ln.weight 64, ln.bias 64, w2 256, b2 16, packed in
  // order into buckets of at most 300: [w1] [b1 ln.weight ln.bias] [w2 b2].
  dist::DataParallel ddp(*model, {.bucket_bytes = 300});
  CHECK(ddp.num_buckets() == 3);
  dist::CommStats before = dist::stats();
  Step step = distributed_step(*model, ddp, data);
  CHECK((dist::stats() - before).gradients.calls == ddp.num_buckets());
  CHECK(max_error(step.grads, reference.grads) < 1e-4);
}

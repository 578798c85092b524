// A world of one process (run without mpirun): SyncBatchNorm is exactly
// BatchNorm1d, DataParallel communicates nothing, and tests that need two
// processes say so.
#include "dist_test_helpers.h"

using namespace dist_test;
namespace dist = nl::dist;

TEST_CASE("in a world of one process SyncBatchNorm equals BatchNorm1d bit for bit", "[world1]") {
  dist::require_world_size(1, "this test");
  Batch data = make_data(4);
  auto plain = make_model(Norm::batch), sync = make_model(Norm::sync_batch);
  REQUIRE((*sync)[1]->type_name() == "SyncBatchNorm");
  nl::optim::SGD plain_opt(plain->parameters(), {.lr = 0.1}), sync_opt(sync->parameters(), {.lr = 0.1});
  for (int step = 0; step < 3; ++step) {
    Tensor plain_loss = nl::cross_entropy((*plain)(data.x), data.y),
           sync_loss = nl::cross_entropy((*sync)(data.x), data.y);
    CHECK(plain_loss.item<float>() == sync_loss.item<float>());
    plain_opt.zero_grad();
    sync_opt.zero_grad();
    plain_loss.backward();
    sync_loss.backward();
    Step a = snapshot(*plain, 0), b = snapshot(*sync, 0);
    CHECK(a.grads == b.grads);
    CHECK(a.buffers == b.buffers);
    plain_opt.step();
    sync_opt.step();
  }
  plain->eval();
  sync->eval();
  CHECK((*plain)(data.x).to_vector<float>() == (*sync)(data.x).to_vector<float>());
  CHECK(dist::stats().normalization.calls == 0);
}

TEST_CASE("in a world of one process DataParallel leaves gradients alone and sends nothing", "[world1]") {
  dist::require_world_size(1, "this test");
  Batch data = make_data(4);
  Step reference = reference_step(Norm::sync_batch, data);
  auto model = make_model(Norm::sync_batch);
  dist::DataParallel ddp(*model);
  dist::CommStats before = dist::stats();
  model->zero_grad();
  nl::cross_entropy((*model)(data.x), data.y).backward();
  ddp.average_gradients();
  CHECK(snapshot(*model, 0).grads == reference.grads);
  CHECK(ddp.parameters_in_sync());
  CHECK((dist::stats() - before).total().calls == 0);
  CHECK(dist::allreduce_mean(2.5) == 2.5);
}

TEST_CASE("a test that needs two processes, run as one, says how to run it", "[world1]") {
  CHECK_THROWS_WITH(dist::require_world_size(2, "normlab_dist_tests [np2]"),
                    Catch::Contains("normlab_dist_tests [np2] needs 2 processes, got 1: run it as `mpirun -np 2"));
}

// StepMeter / StepReport: per-step time and communication, as the examples print them (any world size).
#include <map>

#include "dist_test_helpers.h"

using namespace dist_test;
namespace dist = nl::dist;

TEST_CASE("StepMeter reports a step's time and its collectives, split by purpose") {
  Batch data = make_data(3);
  auto model = make_model(Norm::sync_batch);
  dist::DataParallel ddp(*model);
  dist::StepMeter meter;
  dist::StepReport total;
  for (int step = 0; step < 2; ++step) {
    meter.start();
    model->zero_grad();
    nl::cross_entropy((*model)(data.x), data.y).backward();
    ddp.average_gradients();
    total += meter.stop();
  }
  bool many = dist::world_size() > 1;
  CHECK(total.steps == 2);
  CHECK(total.seconds > 0);
  CHECK(total.compute_seconds() <= total.seconds);
  CHECK(total.comm.gradients.calls == (many ? 2 : 0));
  CHECK(total.comm.normalization.calls == (many ? 4 : 0));
  std::vector<std::pair<std::string, double>> fields = total.fields();
  std::vector<std::string> names;
  for (auto& [name, value] : fields) names.push_back(name);
  CHECK(names == std::vector<std::string>{"step_ms", "compute_ms", "gradient_sync_ms", "gradient_sync_bytes",
                                          "gradient_sync_calls", "norm_sync_ms", "norm_sync_bytes", "norm_sync_calls",
                                          "other_comm_ms", "other_comm_bytes", "other_comm_calls"});
  CHECK(fields[4].second == (many ? 1.0 : 0.0));  // gradient_sync_calls per step
  CHECK(fields[3].second == (many ? double(model->num_parameters() * 4) : 0.0));
  CHECK(fields[0].second == Approx(total.seconds * 1e3 / 2));
}

TEST_CASE("mean_over_ranks: each time the mean over the ranks, so compute and the collectives add up to the step") {
  // rank r: 4 steps of 10 + r s in all, gradient sync 1 + 2r s, norm sync r/2 s, other 0.25 s,
  // so compute (the rest) is 8.75 - 1.5r s; the same bytes and calls on every rank
  double r = double(dist::rank()), n = double(dist::world_size());
  dist::StepReport mine;
  mine.steps = 4;
  mine.seconds = 10 + r;
  mine.comm.gradients = {.calls = 4, .bytes = 4000, .seconds = 1 + 2 * r};
  mine.comm.normalization = {.calls = 8, .bytes = 800, .seconds = 0.5 * r};
  mine.comm.other = {.calls = 4, .bytes = 32, .seconds = 0.25};
  double mean_rank = (n - 1) / 2;  // the mean of 0, 1, ..., n - 1

  dist::StepReport mean = dist::mean_over_ranks(mine);
  CHECK(mean.steps == 4);
  CHECK(mean.seconds == Approx(10 + mean_rank));
  CHECK(mean.comm.gradients.seconds == Approx(1 + 2 * mean_rank));
  CHECK(mean.comm.normalization.seconds == Approx(0.5 * mean_rank));
  CHECK(mean.comm.other.seconds == Approx(0.25));
  CHECK(mean.compute_seconds() == Approx(8.75 - 1.5 * mean_rank));
  CHECK(mean.comm.gradients.bytes == 4000);
  CHECK(mean.comm.normalization.calls == 8);
  // the per-step fields: step_ms = compute_ms + gradient_sync_ms + norm_sync_ms + other_comm_ms
  std::map<std::string, double> f;
  for (auto& [name, value] : mean.fields()) f[name] = value;
  CHECK(f["step_ms"] == Approx(f["compute_ms"] + f["gradient_sync_ms"] + f["norm_sync_ms"] + f["other_comm_ms"]));
  CHECK(f["step_ms"] == Approx((10 + mean_rank) * 1e3 / 4));
  if (dist::world_size() > 1) {
    // what a separate maximum per part gives instead: parts from different ranks that
    // add up to more than the slowest step (8.75 + 1 + 2(n-1) + (n-1)/2 + 0.25 > 10 + (n-1))
    double maxima[4] = {mine.seconds, mine.compute_seconds(), mine.comm.gradients.seconds,
                        mine.comm.normalization.seconds};
    dist::allreduce_max(maxima, 4, dist::Traffic::other);
    CHECK(maxima[1] + maxima[2] + maxima[3] + 0.25 > maxima[0]);
  }
}

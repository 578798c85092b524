// StepMeter / StepReport: per-step time and communication, as the examples print them (any world size).
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
                                          "gradient_sync_calls", "norm_sync_ms", "norm_sync_bytes",
                                          "norm_sync_calls", "other_comm_ms", "other_comm_bytes", "other_comm_calls"});
  CHECK(fields[4].second == (many ? 1.0 : 0.0));  // gradient_sync_calls per step
  CHECK(fields[3].second == (many ? double(model->num_parameters() * 4) : 0.0));
  CHECK(fields[0].second == Approx(total.seconds * 1e3 / 2));
}

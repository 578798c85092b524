// landscape: a small run writes its CSVs and JSON with a verdict per claim,
// and its step-0 probes equal the same quantities computed here by hand from
// a model built the same way: L(θ − η·g) and ‖∇L(θ − η·g) − g‖ for each η,
// and the covariate shift of the second Linear layer after the first took
// its SGD step.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

#include "examples/common/mlp_data.h"
#include "examples/common/random_batches.h"
#include "tests/examples/example_test_helpers.h"

namespace {

// The rows of a CSV (after the header) with `first` as their first fields, split at commas.
std::vector<std::vector<std::string>> rows_starting(const std::filesystem::path& csv, const std::string& first) {
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line)) {
    if (line.rfind(first, 0) != 0) continue;
    std::vector<std::string> fields;
    std::stringstream s(line);
    for (std::string f; std::getline(s, f, ',');) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

// L and every parameter's gradient (copies) on the batch.
std::pair<double, std::vector<nl::Tensor>> loss_and_grads(nl::models::MLP& model, const nl::Tensor& x,
                                                          const nl::Tensor& y) {
  model.zero_grad();
  nl::Tensor loss = nl::cross_entropy(model(x), y);
  loss.backward();
  std::vector<nl::Tensor> grads;
  for (const nl::Tensor& p : model.parameters()) grads.push_back(p.grad().clone());
  return {loss.item<double>(), grads};
}

double squared_distance(const nl::Tensor& a, const nl::Tensor& b) {
  nl::Tensor d = a.to(nl::f64) - b.to(nl::f64);
  return (d * d).sum().item<double>();
}

}  // namespace

TEST_CASE("landscape: the step-0 probes equal a hand computation, and every claim gets a verdict",
          "[examples][landscape]") {
  auto dir = nl_test::fresh_dir("landscape");
  auto run = nl_test::run_example("landscape",
                                  "--data synthetic --limit 200 --norm all --depth 2 --width 16 --steps 6 "
                                  "--probe-every 3 --seeds 1 --batch-size 16 --step-multiples 1,4 --threads 1 --out " +
                                      dir.string() + " 2>/dev/null");
  REQUIRE(run.exit_code == 0);
  auto j = nl_test::last_json_line(run.out);
  for (const char* claim : {"smoother_loss_landscape", "more_predictive_gradient", "smaller_beta_smoothness",
                            "batch_norm_does_not_reduce_ics"})
    CHECK(j["claims"][claim].is_string());
  for (const char* norm : {"none", "batch", "layer"}) CHECK(j["norms"][norm]["loss_range"]["mean"].is_number());
  for (const char* file : {"probes.csv", "landscape.csv", "ics.csv", "steps.csv", "bands.csv", "landscape.gp"})
    CHECK(std::filesystem::exists(dir / file));
  CHECK(rows_starting(dir / "probes.csv", "batch,0,").size() == 2);  // steps 0 and 3

  // the none run at step 0, by hand: same data, init and first batch as the program
  nl::set_num_threads(1);
  examples::MLPData data = examples::load_mlp_data("synthetic", "", 200, 0);
  nl::manual_seed(0);
  nl::models::MLP model(examples::mlp_layer_sizes(data, 2, 16), nl::models::NormKind::none);
  examples::scale_linear_weights(model, std::sqrt(6.0));
  auto [x, y] = examples::RandomBatches(data.train_x, data.train_y).next(16);
  auto [loss0, g] = loss_and_grads(model, x, y);
  std::vector<nl::Tensor> params = model.parameters();
  std::vector<nl::Tensor> saved;
  for (const nl::Tensor& p : params) saved.push_back(p.clone());
  auto reset = [&] {
    nl::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[i]);
  };
  auto along = rows_starting(dir / "landscape.csv", "none,0,0,");  // norm,seed,step,eta,loss,grad_change
  REQUIRE(along.size() == 2);
  for (const auto& row : along) {
    const double eta = std::stod(row[3]);
    INFO("eta " << eta);
    reset();
    {
      nl::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) params[i].add_(g[i], -eta);
    }
    auto [moved, moved_g] = loss_and_grads(model, x, y);
    double change = 0;
    for (size_t i = 0; i < g.size(); ++i) change += squared_distance(moved_g[i], g[i]);
    CHECK(std::stod(row[4]) == Approx(moved).epsilon(1e-6));
    CHECK(std::stod(row[5]) == Approx(std::sqrt(change)).epsilon(1e-6));
  }
  // the second Linear layer (child 2: 0 Linear, 1 ReLU, 2 Linear) after child 0 took its step of lr 0.05
  reset();
  {
    nl::NoGradGuard no_grad;
    params[0].add_(g[0], -0.05);  // 0.weight
    params[1].add_(g[1], -0.05);  // 0.bias
  }
  auto [shifted_loss, shifted] = loss_and_grads(model, x, y);
  auto shift = rows_starting(dir / "ics.csv", "none,0,0,2,");  // norm,seed,step,layer,l2,relative,cosine
  REQUIRE(shift.size() == 1);
  CHECK(std::stod(shift[0][4]) == Approx(std::sqrt(squared_distance(shifted[2], g[2]))).epsilon(1e-6));
}

// landscape: why normalization helps, measured inside training (Santurkar et
// al. 2018). A deep MLP (--depth hidden layers of --width, Linear → norm →
// ReLU, He-scaled init) is trained on Fashion-MNIST with plain SGD (the update
// is −lr·g, the direction the probes move along) with --norm none, batch and
// layer, over --seeds seeds. Every --probe-every steps, on that step's batch
// and leaving the model as it was (probes.h):
//  - the loss landscape along the gradient, L(θ − η·g) for η = lr × each of
//    --step-multiples;
//  - the gradient's predictiveness, ‖∇L(θ − η·g) − ∇L(θ)‖;
//  - the effective β-smoothness, the largest of those per unit moved;
//  - the internal covariate shift of every Linear layer (their Definition
//    2.1): how much its gradient changes when the layers before it take their
//    SGD step.
// The claims, each reported as held, partly or not, from the means over the
// probes and seeds: BN (and LN) make the landscape smoother, the gradient more
// predictive and β smaller than no norm; and BN does not reduce the covariate
// shift (Santurkar et al.'s finding).
//
//   build/bin/landscape                        # none, batch, layer × 3 seeds
//   build/bin/landscape --norm batch --seeds 1 --steps 200
#include <CLI/CLI.hpp>
#include <optional>

#include "examples/common/cli.h"
#include "examples/common/mlp_data.h"
#include "examples/common/random_batches.h"
#include "examples/common/report.h"
#include "examples/common/stats.h"
#include "examples/landscape/landscape.h"

namespace {

using landscape::Config;
using landscape::Run;

// Trains one model with `norm` from `seed`, probing every cfg.probe_every steps (and at step 0).
Run train_and_probe(const Config& cfg, const std::string& norm, uint64_t seed, const examples::MLPData& data) {
  nl::manual_seed(seed);
  nl::models::MLP model(examples::mlp_layer_sizes(data, cfg.depth, cfg.width), nl::models::parse_norm_kind(norm));
  examples::scale_linear_weights(model, cfg.weight_scale);
  nl::optim::SGD optimizer(model.parameters(), {.lr = cfg.lr});
  examples::RandomBatches batches(data.train_x, data.train_y);
  Run run{.norm = norm, .seed = seed};
  nl::train::Progress progress(fmt::format("{} seed {}", norm, seed), cfg.steps);
  for (int64_t step = 0; step < cfg.steps; ++step) {
    auto [x, y] = batches.next(cfg.batch_size);
    if (step % cfg.probe_every == 0)
      run.probes.push_back({step, landscape::probe_gradient(model, x, y, cfg.lr, cfg.step_multiples),
                            landscape::probe_covariate_shift(model, x, y, cfg.lr)});
    optimizer.zero_grad();
    nl::Tensor loss = nl::cross_entropy(model(x), y);
    run.losses.push_back(loss.item<double>());
    if (!std::isfinite(run.losses.back())) break;  // diverged: train_loss stays NaN
    loss.backward();
    optimizer.step();
    progress.update(step + 1, run.losses.back());
  }
  progress.finish();
  if (std::isfinite(run.losses.back())) {
    run.train_loss = examples::mean_of_last(run.losses, size_t(std::max<int64_t>(1, cfg.steps / 10)));
    run.test_acc = nl::train::accuracy(model, data.test_x, data.test_y);
  }
  run.seconds = progress.elapsed();
  return run;
}

// Fills cfg from the command line; the exit code when there is nothing to run.
std::optional<int> parse_options(int argc, char** argv, Config& cfg) {
  cfg.data = examples::kDefaultMLPData;
  cfg.data_dir = examples::kDefaultMLPDataDir;
  CLI::App app{
      "The loss landscape, gradient predictiveness, beta-smoothness and internal covariate shift of a deep "
      "MLP with and without normalization (Santurkar et al. 2018)"};
  app.option_defaults()->always_capture_default();
  app.add_option("--norm", cfg.norm, "none, batch, layer, or all")
      ->check(CLI::IsMember({"none", "batch", "layer", "all"}));
  app.add_option("--depth", cfg.depth, "hidden layers")->check(CLI::Range(1, 100));
  app.add_option("--width", cfg.width, "units per hidden layer")->check(CLI::Range(2, 4096));
  app.add_option("--steps", cfg.steps, "SGD steps")->check(CLI::Range(1, 10000000));
  app.add_option("--batch-size", cfg.batch_size, "examples per step")->check(CLI::Range(2, 65536));
  app.add_option("--lr", cfg.lr, "SGD learning rate (no momentum)")->check(CLI::PositiveNumber);
  app.add_option("--weight-scale", cfg.weight_scale, "multiply PyTorch's default Linear init (sqrt(6): He)")
      ->check(CLI::Range(1e-3, 1e3));
  app.add_option("--probe-every", cfg.probe_every, "steps between probes (and step 0)")->check(CLI::Range(1, 1000000));
  app.add_option("--step-multiples", cfg.step_multiples, "the probe's steps eta, as multiples of --lr")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--seeds", cfg.seeds, "runs per norm, seeds --seed, --seed + 1, ...")->check(CLI::Range(1, 100));
  app.add_option("--seed", cfg.seed, "the first seed");
  app.add_option("--data", cfg.data, "fashion-mnist or synthetic")
      ->check(CLI::IsMember({"fashion-mnist", "synthetic"}));
  app.add_option("--data-dir", cfg.data_dir, "directory of MNIST-format IDX files");
  app.add_option("--limit", cfg.limit, "training samples used (test: as many)")->check(CLI::Range(10, 1000000));
  app.add_option("--threads", cfg.threads, "threads")->check(CLI::Range(1, 256));
  app.add_option("--out", cfg.out, "output directory");
  app.add_flag("--detect-anomaly", cfg.detect_anomaly, "name the first op that produces NaN/inf");
  return examples::parse_command_line(app, argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  if (std::optional<int> exit_code = parse_options(argc, argv, cfg)) return *exit_code;
  nl::set_num_threads(int(cfg.threads));
  return examples::run_or_report_error(
      cfg.detect_anomaly,
      [&] {
        examples::MLPData data = examples::load_mlp_data(cfg.data, cfg.data_dir, cfg.limit, cfg.seed);
        std::vector<std::string> norms =
            cfg.norm == "all" ? std::vector<std::string>{"none", "batch", "layer"} : std::vector<std::string>{cfg.norm};
        std::vector<Run> runs;
        for (const std::string& norm : norms)
          for (int64_t s = 0; s < cfg.seeds; ++s) runs.push_back(train_and_probe(cfg, norm, cfg.seed + s, data));
        examples::write_and_print_json(cfg.out + "/results.json", landscape::report(cfg, data.name, runs));
      },
      /*after_progress_line=*/true);
}

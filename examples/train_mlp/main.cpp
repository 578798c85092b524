// train_mlp: a deep tanh MLP learns the three-spirals classification task
// three times — without normalization, with LayerNorm after every hidden
// Linear, and with BatchNorm1d there — from the same seed and data.
//
//   build/bin/train_mlp                       # all three, side by side
//   build/bin/train_mlp --norm layer --depth 8 --steps 3000
//
// Prints a progress line (step, loss, steps/s, ETA), a summary table, and one
// JSON line per run with the config and the results. --detect-anomaly names
// the first op that makes a NaN or inf (nl::DetectAnomalyGuard) and stops.
//
// Stopping and resuming (as char_lm's, train/run_checkpoints.h):
//
//   build/bin/train_mlp --checkpoint-dir results/ckpt --checkpoint-every 500
//   build/bin/train_mlp --checkpoint-dir results/ckpt --checkpoint-every 500 --resume
//
// Each run of the sequence (none, layer, batch; or the one --norm names) keeps
// its checkpoints in DIR/<norm>/step_<N>.safetensors, the newest
// --keep-checkpoints of them: the model, SGD's momentum buffers, the global
// generator — which is the batch order, RandomBatches draws every batch from
// it — and the run's losses so far. Written every --checkpoint-every steps,
// after each run's last step, and when SIGINT or SIGTERM arrives (the step
// finishes, the run ends with 128 + signal saying how to resume; a second
// signal exits at once). --resume loads each run's newest valid checkpoint: a
// finished run goes straight to its evaluation, the interrupted one continues,
// the later ones start; so the resumed invocation prints the same losses,
// table and JSON lines (but the seconds) as one never interrupted, even after
// kill -9. A checkpoint of another model, optimizer setting or data set
// (points, noise and seed make it: its size and FNV-1a fingerprint are
// compared) is refused, naming the file and the difference; so is an empty
// directory, and a used one without --resume.
#include <CLI/CLI.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>
#include <optional>

#include "examples/common/checkpoint_options.h"
#include "examples/common/cli.h"
#include "examples/common/random_batches.h"
#include "examples/common/stats.h"
#include "normlab.h"

namespace {

using nl::Tensor;

struct Config {
  std::string norm = "all";
  int depth = 6, hidden = 64, steps = 2000, batch_size = 128, points = 3000, threads = 2;
  double lr = 0.05, momentum = 0.9, noise = 0.03;
  uint64_t seed = 0;
  bool detect_anomaly = false;
  nl::train::CheckpointOptions checkpoint;  // --checkpoint-dir: each run's checkpoints in DIR/<norm>
};

struct RunResult {
  std::string norm;
  double train_loss;  // mean over the last 10% of the steps
  double train_acc, test_acc, seconds;
};

// Fills cfg from the command line; the exit code when there is nothing to run
// (--help, --version, a bad option).
std::optional<int> parse_options(int argc, char** argv, Config& cfg) {
  CLI::App app{"Train a deep MLP on three spirals without normalization, with LayerNorm and with BatchNorm"};
  app.add_option("--norm", cfg.norm, "none, layer, batch, or all")
      ->check(CLI::IsMember({"none", "layer", "batch", "all"}));
  app.add_option("--depth", cfg.depth, "hidden layers")->check(CLI::Range(1, 64));
  app.add_option("--hidden", cfg.hidden, "units per hidden layer")->check(CLI::Range(1, 4096));
  app.add_option("--steps", cfg.steps, "SGD steps")->check(CLI::Range(1, 10000000));
  app.add_option("--batch-size", cfg.batch_size, "examples per step")->check(CLI::Range(1, 65536));
  app.add_option("--points", cfg.points, "training points per class")->check(CLI::Range(10, 1000000));
  app.add_option("--lr", cfg.lr, "learning rate")->check(CLI::PositiveNumber);
  app.add_option("--momentum", cfg.momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999));
  app.add_option("--noise", cfg.noise, "std of the noise added to the points")->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", cfg.seed, "random seed");
  app.add_option("--threads", cfg.threads, "threads")->check(CLI::Range(1, 256));
  app.add_flag("--detect-anomaly", cfg.detect_anomaly,
               "name the first op that produces NaN/inf (nl::DetectAnomalyGuard)");
  examples::add_checkpoint_options(app, cfg.checkpoint);
  return examples::parse_command_line(app, argc, argv);
}

// Three interleaved spirals in the plane, `n` points each class. Class k's
// arm is r·(cos, sin)(θ) with θ = 3.5·r·π + 2πk/3, plus Gaussian noise.
std::pair<Tensor, Tensor> spirals(int64_t n, double noise) {
  constexpr int64_t kClasses = 3;
  Tensor radius = nl::rand({kClasses * n}, nl::f32);
  Tensor jitter = nl::randn({kClasses * n, 2}, nl::f32) * noise;
  std::vector<float> xy(size_t(kClasses * n * 2));
  std::vector<int64_t> labels(size_t(kClasses * n));
  std::vector<float> r = radius.to_vector<float>(), j = jitter.to_vector<float>();
  for (int64_t i = 0; i < kClasses * n; ++i) {
    int64_t k = i % kClasses;
    double theta = 3.5 * r[size_t(i)] * std::numbers::pi + 2 * std::numbers::pi * double(k) / kClasses;
    xy[size_t(2 * i)] = float(r[size_t(i)] * std::cos(theta)) + j[size_t(2 * i)];
    xy[size_t(2 * i + 1)] = float(r[size_t(i)] * std::sin(theta)) + j[size_t(2 * i + 1)];
    labels[size_t(i)] = k;
  }
  return {nl::from_vector(xy, {kClasses * n, 2}), nl::from_vector(labels)};
}

// The model: depth × (Linear → norm → Tanh), then a Linear to 3 classes.
// norm is "none", "layer" (LayerNorm over the features) or "batch"
// (BatchNorm1d over the batch), both the fused kernels from nl::layers.
std::shared_ptr<nl::layers::Sequential> make_model(const Config& cfg, const std::string& norm) {
  namespace layers = nl::layers;
  auto model = std::make_shared<layers::Sequential>();
  for (int i = 0; i < cfg.depth; ++i) {
    model->push_back(std::make_shared<layers::Linear>(i == 0 ? 2 : cfg.hidden, cfg.hidden));
    if (norm == "layer") model->push_back(std::make_shared<layers::LayerNorm>(nl::Shape{cfg.hidden}));
    if (norm == "batch") model->push_back(std::make_shared<layers::BatchNorm1d>(cfg.hidden));
    model->push_back(std::make_shared<layers::Tanh>());
  }
  model->push_back(std::make_shared<layers::Linear>(cfg.hidden, 3));
  return model;
}

// The runs of this invocation, in order.
std::vector<std::string> runs_of(const Config& cfg) {
  if (cfg.norm != "all") return {cfg.norm};
  return {"none", "layer", "batch"};
}

// What a resumed run must share with its checkpoint: the model, the
// optimizer, the steps and batch size, and the data (by size and fingerprint).
nl::io::Metadata identity(const Config& cfg, const std::string& norm, const std::vector<Tensor>& data) {
  nl::io::Metadata id = {{"program", "train_mlp"},
                         {"norm", norm},
                         {"depth", std::to_string(cfg.depth)},
                         {"hidden", std::to_string(cfg.hidden)},
                         {"optimizer", "sgd"},
                         {"lr", nl::train::exact_text(cfg.lr)},
                         {"momentum", nl::train::exact_text(cfg.momentum)},
                         {"steps", std::to_string(cfg.steps)},
                         {"batch_size", std::to_string(cfg.batch_size)},
                         {"seed", std::to_string(cfg.seed)}};
  id.merge(nl::train::data_identity("spirals", data));
  return id;
}

// The metadata entry holding a run's losses so far and its training seconds.
constexpr const char* kRunLogKey = "train_mlp_run_log";

// Trains the model with `norm` from cfg.seed on random minibatches of the
// spirals; with --checkpoint-dir from its newest checkpoint when resuming.
RunResult train(const Config& cfg, const std::string& norm) {
  nl::manual_seed(cfg.seed);
  auto [train_x, train_y] = spirals(cfg.points, cfg.noise);
  auto [test_x, test_y] = spirals(cfg.points / 3, cfg.noise);
  auto model = make_model(cfg, norm);
  nl::optim::SGD optimizer(model->parameters(), {.lr = cfg.lr, .momentum = cfg.momentum});
  examples::RandomBatches batches(train_x, train_y);
  auto run_identity = [&] { return identity(cfg, norm, {train_x, train_y, test_x, test_y}); };
  nl::train::RunCheckpoints checkpoints(nl::train::member_options(cfg.checkpoint, norm), run_identity, cfg.steps);

  nl::train::Progress progress(norm, cfg.steps);
  std::vector<double> losses;
  double prior_seconds = 0;  // resumed: the run's training time before the checkpoint
  int start = 0;
  if (std::optional<nl::train::CheckpointFile> file = checkpoints.start()) {
    // the generator comes back too: the next batch is the one the run would have drawn
    start = int(nl::train::load_checkpoint(*file, *model, &optimizer));
    nlohmann::json log = nlohmann::json::parse(nl::train::metadata_entry(*file, kRunLogKey));
    losses = examples::losses_from_json<double>(log.at("losses"));
    prior_seconds = log.at("seconds").get<double>();
    progress.resumed_at(start);
  }
  auto run_log = [&] {
    nlohmann::json log = {{"losses", examples::exact_losses(losses)}, {"seconds", prior_seconds + progress.elapsed()}};
    return nl::io::Metadata{{kRunLogKey, log.dump()}};
  };
  for (int step = start + 1; step <= cfg.steps; ++step) {
    auto [x, y] = batches.next(cfg.batch_size);
    optimizer.zero_grad();
    Tensor loss = nl::cross_entropy((*model)(x), y);
    loss.backward();
    optimizer.step();
    losses.push_back(loss.item<double>());
    if (step % 100 == 0 || step == cfg.steps) progress.update(step, losses.back());
    checkpoints.after_step(step, *model, &optimizer, nullptr, run_log);  // when due or interrupted (then it ends)
  }
  double seconds = prior_seconds + progress.elapsed();
  progress.finish();
  return {.norm = norm,
          .train_loss = examples::mean_of_last(losses, size_t(std::max(1, cfg.steps / 10))),
          .train_acc = nl::train::accuracy(*model, train_x, train_y),
          .test_acc = nl::train::accuracy(*model, test_x, test_y),
          .seconds = seconds};
}

// One JSON line per run: the configuration and the results.
nlohmann::json to_json(const Config& cfg, const RunResult& r) {
  return {{"norm", r.norm},
          {"depth", cfg.depth},
          {"hidden", cfg.hidden},
          {"steps", cfg.steps},
          {"batch_size", cfg.batch_size},
          {"lr", cfg.lr},
          {"momentum", cfg.momentum},
          {"seed", cfg.seed},
          {"train_loss", r.train_loss},
          {"train_acc", r.train_acc},
          {"test_acc", r.test_acc},
          {"seconds", r.seconds}};
}

void report(const Config& cfg, const std::vector<RunResult>& results) {
  fmt::print("\n{:<8} {:>12} {:>10} {:>9} {:>8}\n", "norm", "train_loss", "train_acc", "test_acc", "seconds");
  for (const RunResult& r : results)
    fmt::print("{:<8} {:>12.4f} {:>10.3f} {:>9.3f} {:>8.1f}\n", r.norm, r.train_loss, r.train_acc, r.test_acc,
               r.seconds);
  for (const RunResult& r : results) fmt::print("{}\n", to_json(cfg, r).dump());
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  if (std::optional<int> exit_code = parse_options(argc, argv, cfg)) return *exit_code;
  nl::set_num_threads(cfg.threads);
  return examples::run_or_report_error(cfg.detect_anomaly, [&] {
    std::vector<std::string> runs = runs_of(cfg);
    nl::train::check_sequence(cfg.checkpoint, runs);  // a used directory without --resume, or nothing to resume
    std::vector<RunResult> results;
    for (const std::string& norm : runs) results.push_back(train(cfg, norm));
    report(cfg, results);
  });
}

// grad_flow: how signals and gradients flow through a deep MLP with and
// without normalization. A models::MLP of --depth hidden layers (Linear →
// norm → ReLU, PyTorch's default init) is trained with --norm none, batch and
// layer from the same initial weights; nl::train::StatsRecorder logs, for
// every Linear layer and step, the std of its output, the norm of the
// gradient flowing into that output and of its weight gradient, and the
// update/weight ratio — at initialization (step 0: one forward and backward,
// no update) and during training.
//
// Without normalization each ReLU layer of PyTorch's default init keeps about
// 1/√6 of the signal's std, so 12 layers shrink it by ~10^-5 — and the
// gradients reaching the first layers vanish with it. LayerNorm and BatchNorm
// restore unit scale after every layer.
//
//   build/bin/grad_flow                               # none, batch, layer
//   build/bin/grad_flow --norm none --weight-scale 3  # exploding instead of vanishing
//
// Data: Fashion-MNIST (nl::data::load_mnist) when the data module is built
// in, else — and with --data synthetic — Gaussian clusters of the same shape
// (784 features, 10 classes). Writes to --out: steps_<norm>.csv (every step's
// loss, step 0 the initialization), stats_<norm>.csv (every recorded row) and
// .png (per layer over the steps), profile.csv and grad_flow.png (per layer,
// at initialization and at the end), and prints a table and a final JSON line.
#include <CLI/CLI.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "examples/common/cli.h"
#include "examples/common/mlp_data.h"
#include "examples/common/random_batches.h"
#include "examples/common/stats.h"
#include "normlab.h"

namespace {

using nl::Tensor;
namespace layers = nl::layers;

struct Config {
  std::string norm = "all", activation = "relu", out = "results/grad_flow";
  std::string data = examples::kDefaultMLPData, data_dir = examples::kDefaultMLPDataDir;
  int64_t depth = 12, width = 128, steps = 300, batch_size = 128, record_every = 10, limit = 10000, threads = 2;
  double lr = 0.02, momentum = 0.9, weight_scale = 1.0;
  uint64_t seed = 0;
  bool detect_anomaly = false;
};

using Dataset = examples::MLPData;

using Row = nl::train::StatsRecorder::Row;

// One norm's run: the statistics of every Linear layer (StatsRecorder rows, in
// layer order) at initialization and at the last step recorded, and the results.
struct NormRun {
  std::string norm;
  std::vector<Row> init, final;
  int64_t final_step = 0;  // the last recorded step that trained on a finite loss
  bool diverged = false;
  int64_t diverged_at = -1;
  double train_loss = NAN;  // mean over the last 10% of the steps; NaN when diverged
  double test_acc = 0;      // 0 when diverged
  double seconds = 0;
  double saturated_init = NAN, saturated_final = NAN;  // mean over the Tanh layers of |t| > 0.97 (NaN: none)
};

// The mean saturated fraction over the Tanh layers of a step's rows (NaN when there are none).
double mean_saturation(const std::vector<Row>& rows) {
  double sum = 0;
  int n = 0;
  for (const Row& r : rows)
    if (!std::isnan(r.saturated)) sum += r.saturated, ++n;
  return n ? sum / n : NAN;
}

// makemore_<norm>.csv, histograms_<norm>.csv and makemore_<norm>.png: the
// histograms at initialization and at the last recorded step, and the
// weights' grad:data and update:data over training.
void write_makemore(const Config& cfg, const std::string& norm, const nl::train::StatsRecorder& makemore,
                    int64_t final_step) {
  const std::string base = cfg.out + "/makemore_" + norm, histograms = cfg.out + "/histograms_" + norm + ".csv";
  makemore.write_csv(base + ".csv");
  makemore.write_histograms_csv(histograms);
  nl::train::gnuplot::render(
      base + ".gp", makemore.makemore_script(
                        base + ".csv", histograms, base + ".png", {0, final_step},
                        fmt::format("grad_flow, norm = {}, {} activation: makemore views", norm, cfg.activation)));
}

// Trains with `norm` from cfg.seed (the same Linear weights for every norm),
// recording every Linear layer's statistics at step 0 (initialization: one
// forward and backward, no update) and every record_every steps; writes
// steps_<norm>.csv, stats_<norm>.csv and its plot.
NormRun run(const Config& cfg, const std::string& norm, const Dataset& data) {
  nl::manual_seed(cfg.seed);
  nl::models::MLP model(examples::mlp_layer_sizes(data, cfg.depth, cfg.width), nl::models::parse_norm_kind(norm),
                        cfg.activation);
  examples::scale_linear_weights(model, cfg.weight_scale);
  nl::train::StatsRecorder stats(
      model, {.track = [](const std::string&, const layers::Module& m) { return m.type_name() == "Linear"; },
              .every = cfg.record_every,
              .first_step = 0});
  // Karpathy's makemore views: every leaf layer, with histograms (makemore_<norm>.png)
  nl::train::StatsRecorder makemore(model, {.every = cfg.record_every, .first_step = 0, .histogram_bins = 60});
  nl::optim::SGD optimizer(model.parameters(), {.lr = cfg.lr, .momentum = cfg.momentum});
  examples::RandomBatches batches(data.train_x, data.train_y);

  NormRun result{.norm = norm};
  nl::train::Progress progress(norm, cfg.steps);
  std::vector<double> losses;  // step 0 (the initialization) to the last
  for (int64_t step = 0; step <= cfg.steps && !result.diverged; ++step) {
    auto [x, y] = batches.next(cfg.batch_size);
    optimizer.zero_grad();
    Tensor loss = nl::cross_entropy(model(x), y);
    loss.backward();
    if (step > 0) optimizer.step();  // step 0 measures the initialization
    stats.step();
    makemore.step();
    losses.push_back(loss.item<double>());
    result.diverged = !std::isfinite(losses.back());
    if (result.diverged) {
      result.diverged_at = step;
      fmt::print(stderr, "\n[{}] loss is {} at step {}: diverged\n", norm, losses.back(), step);
    } else if (step > 0 && (step % 20 == 0 || step == cfg.steps)) {
      progress.update(step, losses.back());
    }
  }
  progress.finish();

  int64_t last_finite = result.diverged ? result.diverged_at - 1 : cfg.steps;
  result.final_step = std::max<int64_t>(0, last_finite) / cfg.record_every * cfg.record_every;
  result.init = stats.rows_at(0);
  result.final = stats.rows_at(result.final_step);
  std::vector<std::string> step_rows;  // step,loss
  for (size_t step = 0; step < losses.size(); ++step) step_rows.push_back(fmt::format("{},{:.6g}", step, losses[step]));
  nl::train::write_csv(cfg.out + "/steps_" + norm + ".csv", "step,loss", step_rows);
  std::string csv_path = cfg.out + "/stats_" + norm + ".csv";
  stats.write_csv(csv_path);
  nl::train::gnuplot::render(cfg.out + "/stats_" + norm + ".gp",
                             stats.gnuplot_script(csv_path, cfg.out + "/stats_" + norm + ".png",
                                                  "grad_flow, norm = " + norm + ": per Linear layer over training"));
  write_makemore(cfg, norm, makemore, result.final_step);
  result.saturated_init = mean_saturation(makemore.rows_at(0));
  result.saturated_final = mean_saturation(makemore.rows_at(result.final_step));
  if (!result.diverged) {
    result.train_loss = examples::mean_of_last(losses, size_t(std::max<int64_t>(1, cfg.steps / 10)));
    result.test_acc = nl::train::accuracy(model, data.test_x, data.test_y);
  }
  result.seconds = progress.elapsed();
  return result;
}

// Values of one column of the recorder's rows, in layer order.
std::vector<double> column(const std::vector<Row>& rows, double Row::*field) {
  std::vector<double> out;
  for (const auto& row : rows) out.push_back(row.*field);
  return out;
}

nlohmann::json to_json(const std::vector<Row>& rows, int64_t step) {
  return {{"step", step},
          {"act_std", column(rows, &Row::act_std)},
          {"grad_norm", column(rows, &Row::grad_norm)},
          {"weight_grad_norm", column(rows, &Row::param_grad_norm)},
          {"update_ratio", column(rows, &Row::update_ratio)}};
}

nlohmann::json to_json(const NormRun& r) {
  return {{"norm", r.norm},
          {"init", to_json(r.init, 0)},
          {"final", to_json(r.final, r.final_step)},
          {"train_loss", r.train_loss},
          {"diverged", r.diverged},
          {"diverged_at", r.diverged ? nlohmann::json(r.diverged_at) : nlohmann::json()},
          {"test_acc", r.test_acc},
          {"saturated_init", std::isnan(r.saturated_init) ? nlohmann::json() : nlohmann::json(r.saturated_init)},
          {"saturated_final", std::isnan(r.saturated_final) ? nlohmann::json() : nlohmann::json(r.saturated_final)},
          {"seconds", r.seconds}};
}

// profile.csv: per norm, the statistics of each Linear layer at initialization and at the end.
void write_profile(const std::string& path, const std::vector<NormRun>& results) {
  std::vector<std::string> profile;
  for (const NormRun& r : results)
    for (auto [when, rows] : {std::pair{"init", &r.init}, std::pair{"final", &r.final}})
      for (size_t i = 0; i < rows->size(); ++i) {
        const Row& row = (*rows)[i];
        profile.push_back(fmt::format("{},{},{},{},{:.9g},{:.9g},{:.9g}", r.norm, when, i + 1, row.layer, row.act_std,
                                      row.grad_norm, row.param_grad_norm));
      }
  nl::train::write_csv(path, "norm,when,layer_index,layer,act_std,grad_norm,weight_grad_norm", profile);
}

std::string profile_plot(const Config& cfg, const std::vector<std::string>& norms) {
  std::string list = fmt::format("{}", fmt::join(norms, " "));
  std::string script = fmt::format(
      "# grad_flow: per-layer statistics at initialization (solid) and after training (dashed)\n"
      "set datafile separator ','\nset terminal pngcairo noenhanced size 1300,520\nset output '{0}/grad_flow.png'\n"
      "norms = '{1}'\nset multiplot layout 1,3 title 'grad_flow: {2} hidden layers of {3}, {4}'\n"
      "set logscale y\nset format y '%.0e'\nset xlabel 'Linear layer (1 = first)'\nset key below\n",
      cfg.out, list, cfg.depth, cfg.width, cfg.activation);
  const char* panels[][2] = {
      {"5", "std of the layer output"}, {"6", "norm of dloss/d(layer output)"}, {"7", "norm of the weight gradient"}};
  for (auto& [col, title] : panels)
    script += fmt::format(
        "set title '{1}'\nplot for [i=1:words(norms)] '{0}/profile.csv' skip 1 using 3:(strcol(1) eq word(norms,i) "
        "&& strcol(2) eq 'init' ? column({2}) : NaN) with linespoints lc i lw 2 title word(norms,i).' init', \\\n"
        "     for [i=1:words(norms)] '{0}/profile.csv' skip 1 using 3:(strcol(1) eq word(norms,i) && strcol(2) eq "
        "'final' ? column({2}) : NaN) with linespoints lc i dt 2 title word(norms,i).' trained'\n",
        cfg.out, title, col);
  return script + "unset multiplot\n";
}

void print_table(const std::vector<NormRun>& results) {
  fmt::print("\nPer Linear layer at initialization (1 = first hidden layer, last = output layer):\n");
  std::string header = fmt::format("{:<7}{:<16}", "norm", "");
  for (size_t i = 1; i <= results.front().init.size(); ++i) header += fmt::format("{:>9}", i);
  fmt::print("{}\n", header);
  for (const NormRun& r : results)
    for (auto [field, label] : {std::pair{&Row::act_std, "output std"}, std::pair{&Row::grad_norm, "grad norm"}}) {
      std::string line = fmt::format("{:<7}{:<16}", field == &Row::act_std ? r.norm : "", label);
      for (double v : column(r.init, field)) line += fmt::format("{:>9.1e}", v);
      fmt::print("{}\n", line);
    }
  fmt::print("\n{:<7}{:>12}{:>10}{:>30}{:>9}\n", "norm", "train_loss", "test_acc", "first/last grad norm (init)",
             "seconds");
  for (const NormRun& r : results) {
    std::string loss = r.diverged ? fmt::format("diverged@{}", r.diverged_at) : fmt::format("{:.4f}", r.train_loss);
    fmt::print("{:<7}{:>12}{:>10.3f}{:>30.2e}{:>9.1f}\n", r.norm, loss, r.test_acc,
               r.init.front().grad_norm / r.init.back().grad_norm, r.seconds);
  }
}

// Fills cfg from the command line; the exit code when there is nothing to run
// (--help, --version, a bad option).
std::optional<int> parse_options(int argc, char** argv, Config& cfg) {
  CLI::App app{"Per-layer activation and gradient statistics of a deep MLP with and without normalization"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--norm", cfg.norm, "none, batch, layer, rms, or all (none, batch, layer)")
      ->check(CLI::IsMember({"none", "batch", "layer", "rms", "all"}));
  app.add_option("--depth", cfg.depth, "hidden layers")->check(CLI::Range(1, 100));
  app.add_option("--width", cfg.width, "units per hidden layer")->check(CLI::Range(2, 4096));
  app.add_option("--activation", cfg.activation, "relu, tanh, gelu or sigmoid")
      ->check(CLI::IsMember({"relu", "tanh", "gelu", "sigmoid"}));
  app.add_option("--steps", cfg.steps, "SGD steps after the initialization step")->check(CLI::Range(1, 10000000));
  app.add_option("--batch-size", cfg.batch_size, "examples per step")->check(CLI::Range(2, 65536));
  app.add_option("--lr", cfg.lr, "learning rate")->check(CLI::PositiveNumber);
  app.add_option("--momentum", cfg.momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999));
  app.add_option("--weight-scale", cfg.weight_scale, "multiply the initial Linear weights (> 1: exploding)")
      ->check(CLI::Range(1e-3, 1e3));
  app.add_option("--record-every", cfg.record_every, "record statistics every n steps")->check(CLI::Range(1, 1000000));
  app.add_option("--data", cfg.data, "fashion-mnist or synthetic")
      ->check(CLI::IsMember({"fashion-mnist", "synthetic"}));
  app.add_option("--data-dir", cfg.data_dir, "directory of MNIST-format IDX files");
  app.add_option("--limit", cfg.limit, "training samples used (test: the same for Fashion-MNIST)")
      ->check(CLI::Range(10, 1000000));
  app.add_option("--seed", cfg.seed, "random seed (initial weights, batches)");
  app.add_option("--threads", cfg.threads, "threads")->check(CLI::Range(1, 256));
  app.add_option("--out", cfg.out, "output directory");
  app.add_flag("--detect-anomaly", cfg.detect_anomaly,
               "name the first op that produces NaN/inf (nl::DetectAnomalyGuard)");
  return examples::parse_command_line(app, argc, argv);
}

// Writes profile.csv and its plot; prints the tables and the final JSON line.
void report(const Config& cfg, const Dataset& data, const std::vector<std::string>& norms,
            const std::vector<NormRun>& results) {
  write_profile(cfg.out + "/profile.csv", results);
  bool plotted = nl::train::gnuplot::render(cfg.out + "/grad_flow.gp", profile_plot(cfg, norms));
  print_table(results);
  fmt::print("\nwrote {0}/profile.csv, {0}/steps_<norm>.csv, {0}/stats_<norm>.csv{1}\n", cfg.out,
             plotted ? fmt::format(", {}/grad_flow.png, {}/stats_<norm>.png", cfg.out, cfg.out) : "");
  nlohmann::json runs = nlohmann::json::array();
  for (const NormRun& r : results) runs.push_back(to_json(r));
  nlohmann::json summary = {{"data", data.name},
                            {"depth", cfg.depth},
                            {"width", cfg.width},
                            {"activation", cfg.activation},
                            {"steps", cfg.steps},
                            {"batch_size", cfg.batch_size},
                            {"lr", cfg.lr},
                            {"momentum", cfg.momentum},
                            {"weight_scale", cfg.weight_scale},
                            {"seed", cfg.seed},
                            {"runs", runs}};
  fmt::print("{}\n", summary.dump());
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  if (std::optional<int> exit_code = parse_options(argc, argv, cfg)) return *exit_code;
  nl::set_num_threads(int(cfg.threads));
  auto run_all = [&] {
    nl::io::create_directories(cfg.out);
    Dataset data = examples::load_mlp_data(cfg.data, cfg.data_dir, cfg.limit, cfg.seed);
    fmt::print(stderr, "data: {}, {} training and {} test samples\n", data.name, data.train_x.size(0),
               data.test_x.size(0));
    std::vector<std::string> norms =
        cfg.norm == "all" ? std::vector<std::string>{"none", "batch", "layer"} : std::vector<std::string>{cfg.norm};
    std::vector<NormRun> results;
    for (const std::string& norm : norms) results.push_back(run(cfg, norm, data));
    report(cfg, data, norms, results);
  };
  return examples::run_or_report_error(cfg.detect_anomaly, run_all, /*after_progress_line=*/true);
}

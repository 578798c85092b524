#include "examples/mlp_norm/sweep.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/io/atomic_file.h"
#include "core/parallel.h"
#include "examples/common/stats.h"
#include "examples/common/sweep_results.h"
#include "examples/common/table.h"
#include "examples/mlp_norm/train.h"
#include "train/train.h"

namespace mlp_norm {

namespace {

// The eight configurations, in the order of the table and the plot: the
// norms at batch 128, then at batch 4.
const std::vector<std::string> kNorms = {"none", "batch", "layer", "renorm"};
const std::vector<PointResults> kPoints = {{"none", 128, 0.05},  {"batch", 128, 0.05},  {"layer", 128, 0.05},
                                           {"renorm", 128, 0.05}, {"none", 4, 0.0125},   {"batch", 4, 0.0125},
                                           {"layer", 4, 0.0125},  {"renorm", 4, 0.0125}};

constexpr int kCurvePointsPerEpoch = 50;

// curves.csv: per config, the per-step losses averaged over equal slices of
// training (the same slices of an epoch for both batch sizes, so the curves
// share an x axis in epochs) and then over the seeds; a run that diverged
// stopped early and is left out of its curve (NaN if all did).
void write_curves(const std::string& path, const std::vector<PointResults>& points, int64_t epochs) {
  std::vector<std::pair<std::string, const std::vector<RunResult>*>> columns;
  for (const PointResults& p : points) columns.emplace_back(p.name(), &p.runs);
  examples::write_curves(path, columns, epochs, kCurvePointsPerEpoch);
}

std::string plot_script(const std::string& dir, const std::vector<PointResults>& points, const SweepConfig& cfg) {
  auto color = [](const std::string& norm) {
    return norm == "none" ? "888888" : norm == "batch" ? "d95f02" : norm == "layer" ? "1b9e77" : "7570b3";
  };
  double lo = 1, hi = 0;
  for (const PointResults& p : points) {
    examples::Spread acc = p.spread(&RunResult::test_acc);
    lo = std::min(lo, acc.min);
    hi = std::max(hi, acc.max);
  }
  lo = std::max(0.0, std::floor((lo - 0.03) * 50) / 50);
  hi = std::min(1.0, std::ceil((hi + 0.01) * 50) / 50);
  std::string s = fmt::format(
      "# mlp_norm --sweep: render with `gnuplot {0}/sweep.gp`\n"
      "set terminal pngcairo size 1100,440 font ',10'\n"
      "set output '{0}/sweep.png'\n"
      "set datafile separator ','\n"
      "set datafile columnheaders\n"
      "set multiplot layout 1,2 title 'MLP 784-{1}-{1}-10 on Fashion-MNIST, {2}, {3} epoch(s), mean of {4} seed(s)'\n"
      "set title 'training loss (mean over {5}% slices of an epoch)'\n"
      "set xlabel 'epoch'\nset ylabel 'cross-entropy (log scale)'\nset logscale y\nset autoscale yfix\n"
      "set ytics (0.2, 0.3, 0.4, 0.5, 0.7, 1, 1.5, 2, 3)\n"
      "set key top right\nset grid\n"
      "plot ",
      dir, cfg.hidden, cfg.optim, cfg.epochs, cfg.seeds, 100 / kCurvePointsPerEpoch);
  for (size_t i = 0; i < points.size(); ++i) {
    const PointResults& p = points[i];
    s += fmt::format("{}'{}/curves.csv' using 1:{} with lines lw 2 dt {} lc rgb '#{}' title '{}'",
                     i ? ", \\\n     " : "", dir, i + 2, p.batch_size == 4 ? 2 : 1, color(p.norm), p.title());
  }
  // bars: one group per batch size, coloured by norm as the curves
  s += fmt::format(
      "\nunset logscale y\nset ytics auto\n"
      "set title 'test accuracy (eval mode; bar: mean, whiskers: min–max over seeds)'\n"
      "set xlabel ''\nset ylabel 'accuracy'\nset yrange [{}:{}]\nset key off\nset style fill solid 0.8 border -1\n"
      "set boxwidth 0.8\nset xtics rotate by -25\n"
      "x(i) = i + (i >= {})\n"
      "color(norm) = norm eq 'none' ? 0x{} : norm eq 'batch' ? 0x{} : norm eq 'layer' ? 0x{} : 0x{}\n"
      "plot '{}/summary.csv' using (x($0)):6:(color(strcol(2))):xtic(1) with boxes lc rgb variable, \\\n"
      "     '' using (x($0)):6:8:9 with yerrorbars lc rgb 'black' pt 0\n"
      "unset multiplot\n",
      lo, hi, kNorms.size(), color("none"), color("batch"), color("layer"), color("renorm"), dir);
  return s;
}

// Trains every configuration for every seed (examples::train_sweep):
// runs/<name>_seed<s>.csv, results.csv and results.json.
std::vector<PointResults> train_all(const SweepConfig& cfg, const nl::data::Mnist& data, const std::string& dir) {
  std::vector<PointResults> points = kPoints;
  auto train = [&](const PointResults& p, uint64_t seed, const std::string& tag,
                   const nl::train::CheckpointOptions& checkpoint) {
    RunConfig run{.norm = p.norm,
                  .batch_size = p.batch_size,
                  .epochs = cfg.epochs,
                  .lr = p.lr,
                  .optim = cfg.optim,
                  .momentum = cfg.momentum,
                  .seed = seed,
                  .hidden = cfg.hidden,
                  .checkpoint = checkpoint};
    return train_run(run, data, dir + "/runs/" + tag + ".csv", tag);
  };
  examples::train_sweep(points, cfg.seeds, cfg.seed, cfg.checkpoint, dir, train,
                        [&](const RunResult& r) { return to_json(r, data); });
  return points;
}

// Per configuration, mean ± std over the seeds: writes summary.csv and
// summary.md, and returns the same tables as text for the terminal.
std::string summarize(const SweepConfig& cfg, const nl::data::Mnist& data, const std::vector<PointResults>& points,
                      const std::string& dir) {
  examples::Table table({"norm", "batch", "lr", "test acc", "test loss", "train loss", "seconds/run"});
  std::vector<std::string> summary_rows;
  for (const PointResults& p : points) {
    examples::Spread acc = p.spread(&RunResult::test_acc), test_loss = p.spread(&RunResult::test_loss),
                     train_loss = p.spread(&RunResult::train_loss), seconds = p.spread(&RunResult::seconds);
    table.add_row({p.norm, std::to_string(p.batch_size), fmt::format("{}", p.lr),
                   examples::plus_minus(acc), examples::plus_minus(test_loss), examples::plus_minus(train_loss),
                   fmt::format("{:.1f}", seconds.mean)});
    summary_rows.push_back(fmt::format("{} b{},{},{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f}",
                                       p.norm, p.batch_size, p.norm, p.batch_size, p.lr,
                                       acc.n, acc.mean, acc.std, acc.min, acc.max, test_loss.mean, train_loss.mean,
                                       train_loss.std, seconds.mean));
  }
  nl::train::write_csv(dir + "/summary.csv",
                       "config,norm,batch_size,lr,seeds,test_acc_mean,test_acc_std,test_acc_min,test_acc_max,"
                       "test_loss_mean,train_loss_mean,train_loss_std,seconds_mean",
                       summary_rows);

  // how much each norm gains over no normalization at the same batch size
  examples::Table gains(
      {"batch", "batch norm − none", "layer norm − none", "layer norm − batch norm", "renorm − batch norm"});
  for (size_t b : {size_t(0), kNorms.size()}) {
    auto acc = [&](size_t k) { return points[b + k].spread(&RunResult::test_acc).mean; };
    double none = acc(0), batch = acc(1), layer = acc(2), renorm = acc(3);
    gains.add_row({std::to_string(points[b].batch_size), fmt::format("{:+.4f}", batch - none),
                   fmt::format("{:+.4f}", layer - none), fmt::format("{:+.4f}", layer - batch),
                   fmt::format("{:+.4f}", renorm - batch)});
  }
  std::string seeds =
      cfg.seeds == 1 ? fmt::format("seed {}", cfg.seed)
                     : fmt::format("seeds {}..{} (mean ± sample std)", cfg.seed, cfg.seed + uint64_t(cfg.seeds) - 1);
  std::string setup = fmt::format(
      "MLP 784-{0}-{0}-{1}, norm before ReLU; {2} training / {3} test samples; {4} (momentum {5}), {6} epoch(s); "
      "{7}; {8} thread(s). Test: eval mode. Train loss: mean over the last 10% of steps.",
      cfg.hidden, data.num_classes, data.train.size(), data.test.size(), cfg.optim, cfg.momentum, cfg.epochs, seeds,
      nl::get_num_threads());
  nl::io::write_file_atomically(dir + "/summary.md", "# mlp_norm sweep\n\n" + setup + "\n\n" + table.markdown() +
                                                         "\nTest accuracy differences (means):\n\n" + gains.markdown());
  return fmt::format("\n{}\n{}\n{}", setup, table.text(), gains.text());
}

}  // namespace

SweepResult run_sweep(const SweepConfig& cfg, const nl::data::Mnist& data) {
  auto start = std::chrono::steady_clock::now();
  SweepResult result{.out = std::filesystem::absolute(cfg.out).lexically_normal().string()};
  const std::string& dir = result.out;
  nl::io::create_directories(dir + "/runs");
  result.points = train_all(cfg, data, dir);
  std::string summary = summarize(cfg, data, result.points, dir);
  write_curves(dir + "/curves.csv", result.points, cfg.epochs);
  if (nl::train::gnuplot::render(dir + "/sweep.gp", plot_script(dir, result.points, cfg)))
    result.plot = dir + "/sweep.png";
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  examples::print_sweep_end(summary, dir, "summary.md, results.csv, curves.csv", result.plot);
  return result;
}

}  // namespace mlp_norm

#include "examples/cnn_norm/sweep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/io/atomic_file.h"
#include "core/parallel.h"
#include "examples/common/sweep_results.h"
#include "examples/common/table.h"
#include "train/train.h"

namespace cnn_norm {

namespace {

constexpr int kCurvePointsPerEpoch = 50;
// one colour per norm, whatever the sweep's order (grey for none, then ColorBrewer Dark2)
const char* color_of(const std::string& norm) {
  if (norm == "none") return "888888";
  if (norm == "batch") return "d95f02";
  if (norm == "group") return "1b9e77";
  if (norm == "layer") return "7570b3";
  if (norm == "instance") return "e7298a";
  if (norm == "batch_renorm") return "66a61e";
  return "a6761d";  // weight
}

// Trains every configuration for every seed (examples::train_sweep): runs/<tag>.csv,
// results.csv and results.json.
std::vector<PointResults> train_all(const SweepConfig& cfg, const nl::data::Mnist& data, const std::string& dir) {
  std::vector<PointResults> points;
  for (const std::string& norm : cfg.norms)
    for (int64_t batch : cfg.batch_sizes) points.push_back({norm, batch, scaled_lr(cfg.base_lr, batch), {}});
  auto train = [&](const PointResults& p, uint64_t seed, const std::string& tag,
                   const nl::train::CheckpointOptions& checkpoint) {
    RunConfig run{.norm = p.norm,
                  .batch_size = p.batch_size,
                  .epochs = cfg.epochs,
                  .lr = p.lr,
                  .momentum = cfg.momentum,
                  .groups = cfg.groups,
                  .seed = seed,
                  .noniid = cfg.noniid,
                  .checkpoint = checkpoint};
    return train_run(run, data, dir + "/runs/" + tag + ".csv", tag);
  };
  examples::train_sweep(points, cfg.seeds, cfg.seed, cfg.checkpoint, dir, train,
                        [&](const RunResult& r) { return to_json(r, data); });
  return points;
}

const PointResults& point_of(const std::vector<PointResults>& points, const std::string& norm, int64_t batch) {
  for (const PointResults& p : points)
    if (p.norm == norm && p.batch_size == batch) return p;
  nl::fail("cnn_norm: no sweep point {} at batch {}", norm, batch);
}

// errors.csv: per batch size, each norm's test error in % (mean, min, max over
// the seeds) — the data of the figure's left panel.
void write_errors(const std::string& path, const SweepConfig& cfg, const std::vector<PointResults>& points) {
  std::string header = "batch_size";
  for (const std::string& norm : cfg.norms) header += fmt::format(",{0}_mean,{0}_min,{0}_max", norm);
  std::vector<std::string> rows;
  for (int64_t batch : cfg.batch_sizes) {
    std::string row = std::to_string(batch);
    for (const std::string& norm : cfg.norms) {
      examples::Spread acc = point_of(points, norm, batch).spread(&RunResult::test_acc);
      row += fmt::format(",{:.3f},{:.3f},{:.3f}", 100 * (1 - acc.mean), 100 * (1 - acc.max), 100 * (1 - acc.min));
    }
    rows.push_back(row);
  }
  nl::train::write_csv(path, header, rows);
}

// curves.csv: at the largest batch size, each norm's training loss averaged
// over 2% slices of an epoch and over the seeds (diverged runs left out).
void write_curves(const std::string& path, const SweepConfig& cfg, const std::vector<PointResults>& points) {
  int64_t batch = *std::max_element(cfg.batch_sizes.begin(), cfg.batch_sizes.end());
  std::vector<std::pair<std::string, const std::vector<RunResult>*>> columns;
  for (const std::string& norm : cfg.norms) columns.emplace_back(norm, &point_of(points, norm, batch).runs);
  examples::write_curves(path, columns, cfg.epochs, kCurvePointsPerEpoch);
}

std::string plot_script(const std::string& dir, const SweepConfig& cfg, const nl::data::Mnist& data) {
  int64_t largest = *std::max_element(cfg.batch_sizes.begin(), cfg.batch_sizes.end());
  int64_t smallest = *std::min_element(cfg.batch_sizes.begin(), cfg.batch_sizes.end());
  std::string xtics;
  for (int64_t b : cfg.batch_sizes) xtics += fmt::format("{}{}", xtics.empty() ? "" : ", ", b);
  std::string s = fmt::format(
      "# cnn_norm --sweep: render with `gnuplot {0}/sweep.gp`\n"
      "set terminal pngcairo size 1200,460 font ',10' noenhanced\n"
      "set output '{0}/sweep.png'\n"
      "set datafile separator ','\n"
      "set datafile columnheaders\n"
      "set multiplot layout 1,2 title 'CNN 32-64-128 on Fashion-MNIST ({1} training images{2}), SGD momentum {3}, "
      "lr = {4} x batch / 32, {5} epoch(s), {6} seed(s)'\n"
      "set title 'test error against batch size (mean; whiskers: min-max over seeds)'\n"
      "set xlabel 'batch size'\nset ylabel 'test error (%)'\nset logscale x 2\n"
      "set xrange [{7}:{8}] reverse\nset xtics ({9})\nset key top left\nset grid\n"
      "plot ",
      dir, data.train.size(), cfg.noniid ? ", batches of 2 classes" : "", cfg.momentum, cfg.base_lr, cfg.epochs,
      cfg.seeds, double(largest) * 1.25, double(smallest) / 1.25, xtics);
  for (size_t i = 0; i < cfg.norms.size(); ++i)
    s += fmt::format("{0}'{1}/errors.csv' using 1:{2}:{3}:{4} with yerrorlines lw 2 pt 7 ps 0.6 lc rgb '#{5}' "
                     "title '{6}'",
                     i ? ", \\\n     " : "", dir, 3 * i + 2, 3 * i + 3, 3 * i + 4, color_of(cfg.norms[i]), cfg.norms[i]);
  s += fmt::format(
      "\nunset logscale x\nset xrange [*:*] noreverse\nset xtics auto\n"
      "set title 'training loss at batch {}, mean over {}% slices of an epoch and the seeds'\n"
      "set xlabel 'epoch'\nset ylabel 'cross-entropy (log scale)'\nset logscale y\nset key top right\n"
      "set ytics (0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 7, 10)\n"
      "plot ",
      largest, 100 / kCurvePointsPerEpoch);
  for (size_t i = 0; i < cfg.norms.size(); ++i)
    s += fmt::format("{}'{}/curves.csv' using 1:{} with lines lw 2 lc rgb '#{}' title '{}'", i ? ", \\\n     " : "",
                     dir, i + 2, color_of(cfg.norms[i]), cfg.norms[i]);
  return s + "\nunset multiplot\n";
}

// Per configuration, mean ± std over the seeds, and the norms ordered by test
// error at each batch size: writes summary.csv and summary.md, returns the
// tables as text for the terminal.
std::string summarize(const SweepConfig& cfg, const nl::data::Mnist& data, const std::vector<PointResults>& points,
                      const std::string& dir) {
  examples::Table table({"norm", "batch", "lr", "test error %", "test loss", "train loss", "seconds/run"});
  std::vector<std::string> rows;
  for (const PointResults& p : points) {
    examples::Spread acc = p.spread(&RunResult::test_acc), test_loss = p.spread(&RunResult::test_loss),
                     train_loss = p.spread(&RunResult::train_loss), seconds = p.spread(&RunResult::seconds);
    examples::Spread error{.mean = 100 * (1 - acc.mean), .std = 100 * acc.std, .n = acc.n};
    table.add_row({p.norm, std::to_string(p.batch_size), fmt::format("{}", p.lr), examples::plus_minus(error, 2),
                   examples::plus_minus(test_loss), examples::plus_minus(train_loss),
                   fmt::format("{:.1f}", seconds.mean)});
    rows.push_back(fmt::format("{},{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f}", p.norm,
                               p.batch_size, p.lr, acc.n, acc.mean, acc.std, acc.min, acc.max, test_loss.mean,
                               train_loss.mean, train_loss.std, seconds.mean));
  }
  nl::train::write_csv(dir + "/summary.csv",
                       "norm,batch_size,lr,seeds,test_acc_mean,test_acc_std,test_acc_min,test_acc_max,"
                       "test_loss_mean,train_loss_mean,train_loss_std,seconds_mean",
                       rows);
  examples::Table order({"batch", "norms by mean test error % (best first)"});
  for (int64_t batch : cfg.batch_sizes) {
    std::vector<std::pair<double, std::string>> ranked;
    for (const std::string& norm : cfg.norms)
      ranked.push_back({100 * (1 - point_of(points, norm, batch).spread(&RunResult::test_acc).mean), norm});
    std::sort(ranked.begin(), ranked.end());
    std::string text;
    for (const auto& [error, norm] : ranked) text += fmt::format("{}{} {:.2f}", text.empty() ? "" : " < ", norm, error);
    order.add_row({std::to_string(batch), text});
  }
  std::string seeds = cfg.seeds == 1 ? fmt::format("seed {}", cfg.seed)
                                     : fmt::format("seeds {}..{} (mean ± sample std)", cfg.seed,
                                                   cfg.seed + uint64_t(cfg.seeds) - 1);
  std::string setup = fmt::format(
      "models::CNN 32-64-128 ({} x {} images); {} training / {} test samples{}; SGD momentum {}, lr = {} x batch / 32; "
      "{} epoch(s); {}; {} thread(s). Test: eval mode. Train loss: mean over the last 10% of steps.",
      data.height, data.width, data.train.size(), data.test.size(), cfg.noniid ? ", batches of 2 classes (--noniid)" : "",
      cfg.momentum, cfg.base_lr, cfg.epochs, seeds, nl::get_num_threads());
  nl::io::write_file_atomically(dir + "/summary.md", "# cnn_norm sweep\n\n" + setup + "\n\n" + table.markdown() +
                                                         "\nThe norms ordered at each batch size:\n\n" +
                                                         order.markdown());
  return fmt::format("\n{}\n{}\n{}", setup, table.text(), order.text());
}

}  // namespace

std::vector<std::string> default_sweep_norms(bool noniid) {
  if (noniid) return {"batch", "batch_renorm", "group", "layer"};
  return {"none", "batch", "group", "layer", "instance", "batch_renorm", "weight"};
}

std::vector<int64_t> default_sweep_batch_sizes(bool noniid) {
  if (noniid) return {128, 32, 8};
  return {128, 32, 16, 8, 4, 2};
}

SweepResult run_sweep(const SweepConfig& cfg, const nl::data::Mnist& data) {
  auto start = std::chrono::steady_clock::now();
  SweepResult result{.out = std::filesystem::absolute(cfg.out).lexically_normal().string()};
  const std::string& dir = result.out;
  nl::io::create_directories(dir + "/runs");
  result.points = train_all(cfg, data, dir);
  std::string summary = summarize(cfg, data, result.points, dir);
  write_errors(dir + "/errors.csv", cfg, result.points);
  write_curves(dir + "/curves.csv", cfg, result.points);
  if (nl::train::gnuplot::render(dir + "/sweep.gp", plot_script(dir, cfg, data))) result.plot = dir + "/sweep.png";
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  examples::print_sweep_end(summary, dir, "summary.md, results.csv, errors.csv, curves.csv", result.plot);
  return result;
}

}  // namespace cnn_norm

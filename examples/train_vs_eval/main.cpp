// train_vs_eval: what one sample's output depends on. LayerNorm (and RMSNorm)
// normalize each sample over its own features, so a sample's output is the
// same in training and in evaluation mode and whatever else is in its batch.
// BatchNorm normalizes each feature over the batch: in training mode the
// sample's output depends on its batch-mates, and in eval mode (running
// averages) it is something else again (Ba et al. 2016; docs/normalization.md).
//
// For one fixed sample x0 (test image --sample of Fashion-MNIST, or a random
// vector with --synthetic), MLPs 784-256-256-10 with each norm are trained
// briefly (--train-steps, so BatchNorm's running statistics are real), then x0
// is put in batches of 1, 4 and 128 — x0 first, the rest random other samples,
// --compositions different draws — and run in train and in eval mode. Reported:
// the largest difference from the reference (x0 alone, eval mode) of x0's
// first Linear output (before any norm: float32 rounding of the matrix product
// at another batch size, the floor every row shares), of the norm layer's
// output after it and of the logits; and how much the logits differ between
// batch compositions.
//
//   build/bin/train_vs_eval                  # Fashion-MNIST
//   build/bin/train_vs_eval --synthetic      # random data, no files needed
//
// Writes to --out: steps.csv (norm, step, loss of every warm-up training step),
// results.csv and results.json; a progress line on stderr during the warm-up.
// --detect-anomaly names the first op that makes a NaN or inf and stops.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "examples/common/cli.h"
#include "examples/common/report.h"
#include "examples/common/table.h"
#include "normlab.h"

namespace {

using nl::Tensor;

struct Config {
  bool synthetic = false;
  std::string data_dir = nl::data::kFashionMnistDir, out = "results/train_vs_eval";
  int64_t sample = 0, train_steps = 200, compositions = 3, hidden = 256, threads = 2;
  uint64_t seed = 0;
  bool detect_anomaly = false;
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Fills cfg from the command line; the exit code when there is nothing to run
// (--help, --version, a bad option).
std::optional<int> parse_options(int argc, char** argv, Config& cfg) {
  CLI::App app{"Show that LayerNorm's output for a sample ignores its batch and the mode, and BatchNorm's does not"};
  app.add_flag("--synthetic", cfg.synthetic, "random data instead of Fashion-MNIST");
  app.add_option("--data", cfg.data_dir, "directory of MNIST-format IDX files")->capture_default_str();
  app.add_option("--sample", cfg.sample, "which test image (or random sample) is the fixed one")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--train-steps", cfg.train_steps, "SGD steps (batch 128, lr 0.05) before measuring")
      ->check(CLI::Range(int64_t(0), int64_t(1000000)))
      ->capture_default_str();
  app.add_option("--compositions", cfg.compositions, "random batch compositions per batch size")
      ->check(CLI::Range(int64_t(2), int64_t(100)))
      ->capture_default_str();
  app.add_option("--hidden", cfg.hidden, "hidden units")
      ->check(CLI::Range(int64_t(1), int64_t(8192)))
      ->capture_default_str();
  app.add_option("--seed", cfg.seed, "seed of the weights, the training batches and the compositions")
      ->capture_default_str();
  app.add_option("--threads", cfg.threads, "threads")
      ->check(CLI::Range(int64_t(1), int64_t(256)))
      ->capture_default_str();
  app.add_option("--out", cfg.out, "directory for steps.csv, results.csv and results.json")->capture_default_str();
  app.add_flag("--detect-anomaly", cfg.detect_anomaly,
               "name the first op that produces NaN/inf (nl::DetectAnomalyGuard)");
  return examples::parse_command_line(app, argc, argv);
}

struct Data {
  Tensor train_x, train_y;  // for the brief training
  Tensor pool;              // where x0 and its batch-mates come from (the test images)
  int64_t classes = 10;
};

Data load(const Config& cfg) {
  if (cfg.synthetic) {
    nl::manual_seed(cfg.seed + 1000);
    return {nl::randn({4096, 784}), (nl::rand({4096}, nl::f64) * 10.0).to(nl::i64), nl::randn({1024, 784}), 10};
  }
  nl::data::Mnist mnist = nl::data::load_mnist(cfg.data_dir);
  return {mnist.train.images, mnist.train.labels, mnist.test.images, mnist.num_classes};
}

// A few SGD steps at batch 128 so weights and BatchNorm's running statistics
// are not the initial ones; each step's loss becomes a CSV row "norm,step,loss".
void train_briefly(nl::models::MLP& model, const std::string& norm, const Data& data, const Config& cfg,
                   std::vector<std::string>& step_rows) {
  nl::optim::SGD optimizer(model.parameters(), {.lr = 0.05});
  nl::data::DataLoader loader(data.train_x, data.train_y,
                              {.batch_size = 128, .shuffle = true, .seed = cfg.seed, .drop_last = true});
  if (cfg.train_steps > 0 && loader.size() == 0)
    nl::fail("train_vs_eval: {} training samples make no batch of 128 to train with (use --train-steps 0)",
             loader.num_samples());
  nl::train::Progress progress(norm, cfg.train_steps);
  for (int64_t step = 0; step < cfg.train_steps; ++step) {
    if (step % loader.size() == 0) loader.set_epoch(step / loader.size());
    nl::data::Batch batch = loader[step % loader.size()];
    optimizer.zero_grad();
    Tensor loss = nl::cross_entropy(model(batch.inputs), batch.targets);
    loss.backward();
    optimizer.step();
    double value = loss.item<double>();
    step_rows.push_back(fmt::format("{},{},{:.6g}", norm, step + 1, value));
    if ((step + 1) % 10 == 0 || step + 1 == cfg.train_steps) progress.update(step + 1, value);
  }
  if (cfg.train_steps > 0) progress.finish();
}

// x0's row (the first) of the first Linear's output, of the norm layer after it
// (the MLP's children 0 and 1) and of the logits.
struct Outputs {
  std::vector<float> linear, normalized, logits;
};
Outputs outputs_of_first_row(nl::models::MLP& model, const Tensor& batch) {
  nl::NoGradGuard no_grad;
  auto children = model.named_children();
  Tensor linear = (*children[0].second)(batch);
  Tensor normalized = (*children[1].second)(linear);
  Tensor logits = model(batch);
  return {linear.select(0, 0).to_vector<float>(), normalized.select(0, 0).to_vector<float>(),
          logits.select(0, 0).to_vector<float>()};
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - double(b[i])));
  return m;
}

// x0 followed by batch − 1 distinct other samples of the pool, drawn for composition `draw`.
Tensor batch_with(const Tensor& pool, int64_t sample, int64_t batch, uint64_t seed, int64_t draw) {
  std::vector<int64_t> order = nl::data::shuffled_indices(pool.size(0), seed + 7919, draw), rows = {sample};
  for (int64_t i : order)
    if (int64_t(rows.size()) < batch && i != sample) rows.push_back(i);
  return nl::data::gather_rows(pool, rows);
}

struct Row {
  std::string norm, mode;
  int64_t batch;
  int64_t compositions = 0;
  double linear_diff = 0, norm_diff = 0, logits_diff = 0;  // vs the reference
  double spread = 0;                                       // of the logits, between compositions
  std::string error;
};

std::vector<Row> measure(const std::string& norm, const Data& data, const Config& cfg,
                         std::vector<std::string>& step_rows) {
  nl::manual_seed(cfg.seed);
  nl::models::MLP model({data.pool.size(1), cfg.hidden, cfg.hidden, data.classes}, nl::models::parse_norm_kind(norm));
  train_briefly(model, norm, data, cfg, step_rows);

  model.eval();
  auto reference = outputs_of_first_row(model, batch_with(data.pool, cfg.sample, 1, cfg.seed, 0));
  std::vector<Row> rows;
  for (std::string mode : {"eval", "train"}) {
    model.train(mode == "train");  // (train mode also moves BatchNorm's running statistics; eval rows come first)
    for (int64_t batch : {1, 4, 128}) {
      Row row{.norm = norm, .mode = mode, .batch = batch};
      std::vector<std::vector<float>> logits_per_draw;
      int64_t draws = batch == 1 ? 1 : cfg.compositions;
      try {
        for (int64_t draw = 0; draw < draws; ++draw) {
          Outputs out = outputs_of_first_row(model, batch_with(data.pool, cfg.sample, batch, cfg.seed, draw));
          row.linear_diff = std::max(row.linear_diff, max_abs_diff(out.linear, reference.linear));
          row.norm_diff = std::max(row.norm_diff, max_abs_diff(out.normalized, reference.normalized));
          row.logits_diff = std::max(row.logits_diff, max_abs_diff(out.logits, reference.logits));
          for (const auto& other : logits_per_draw) row.spread = std::max(row.spread, max_abs_diff(out.logits, other));
          logits_per_draw.push_back(out.logits);
          ++row.compositions;
        }
      } catch (const nl::Error& e) {  // BatchNorm refuses a batch of 1 in training mode, as PyTorch does
        row.error = e.what();
      }
      rows.push_back(row);
    }
  }
  return rows;
}

const std::vector<std::string> kNorms = {"layer", "rms", "batch"};

struct Results {
  std::vector<Row> rows;               // per norm, mode and batch size
  std::vector<std::string> step_rows;  // the warm-up training: norm,step,loss
};

// Trains and measures each norm in turn, saying so on stderr.
Results run(const Config& cfg, Clock::time_point start) {
  Data data = load(cfg);
  if (cfg.sample >= data.pool.size(0) || data.pool.size(0) < 128)
    nl::fail("train_vs_eval: --sample {} must be below the {} test samples (and 128 are needed)", cfg.sample,
             data.pool.size(0));
  Results results;
  for (const std::string& norm : kNorms) {
    fmt::print(stderr, "[train_vs_eval] {} norm: {} training steps, then measuring ({:.1f} s)\n", norm, cfg.train_steps,
               seconds_since(start));
    for (Row& row : measure(norm, data, cfg, results.step_rows)) results.rows.push_back(row);
  }
  return results;
}

void print_table(const Config& cfg, const std::vector<Row>& rows) {
  examples::Table table({"norm", "mode", "batch", "Linear out max|Δ|", "norm out max|Δ|", "logits max|Δ|",
                         "logits max|Δ| between batches"});
  for (const Row& r : rows) {
    auto cell = [&](double v) { return r.error.empty() ? fmt::format("{:.3g}", v) : std::string("—"); };
    table.add_row({r.norm, r.mode, std::to_string(r.batch), cell(r.linear_diff),
                   r.error.empty() ? cell(r.norm_diff) : "error: batch of 1", cell(r.logits_diff),
                   r.batch == 1 ? std::string("—") : cell(r.spread)});
  }
  fmt::print(
      "x0 = {} {}; differences from x0's output in eval mode in a batch of 1, over {} random batch-mate draws\n\n",
      cfg.synthetic ? "random sample" : "test image", cfg.sample, cfg.compositions);
  fmt::print("{}", table.text());
}

void write_csvs(const Config& cfg, const Results& results) {
  std::vector<std::string> csv;
  for (const Row& r : results.rows)
    csv.push_back(fmt::format("{},{},{},{},{:.6g},{:.6g},{:.6g},{:.6g},\"{}\"", r.norm, r.mode, r.batch, r.compositions,
                              r.linear_diff, r.norm_diff, r.logits_diff, r.spread, r.error));
  nl::io::create_directories(cfg.out);
  nl::train::write_csv(cfg.out + "/steps.csv", "norm,step,loss", results.step_rows);
  nl::train::write_csv(cfg.out + "/results.csv",
                       "norm,mode,batch_size,compositions,linear_output_max_diff,norm_output_max_diff,logits_max_diff,"
                       "max_diff_between_compositions,error",
                       csv);
}

// Per norm and mode: the largest difference of each kind over the batch sizes that ran.
struct Maxima {
  double linear_output = 0, norm_output = 0, logits = 0, between_compositions = 0;
};
struct NormSummary {
  std::vector<std::string> errors;       // "train mode, batch 1: ..."
  std::map<std::string, Maxima> maxima;  // by mode, for the modes where some batch ran
};

std::map<std::string, NormSummary> summarize(const std::vector<Row>& rows) {
  std::map<std::string, NormSummary> norms;
  for (const Row& r : rows) {
    NormSummary& s = norms[r.norm];
    if (!r.error.empty()) {
      s.errors.push_back(fmt::format("{} mode, batch {}: {}", r.mode, r.batch, r.error));
      continue;
    }
    Maxima& m = s.maxima[r.mode];
    m.linear_output = std::max(m.linear_output, r.linear_diff);
    m.norm_output = std::max(m.norm_output, r.norm_diff);
    m.logits = std::max(m.logits, r.logits_diff);
    m.between_compositions = std::max(m.between_compositions, r.spread);
  }
  return norms;
}

// The configuration and, per norm, the errors and each mode's Maxima.
nlohmann::json to_json(const Config& cfg, const Results& results, double seconds) {
  nlohmann::json summary = {{"synthetic", cfg.synthetic},
                            {"sample", cfg.sample},
                            {"train_steps", cfg.train_steps},
                            {"compositions", cfg.compositions},
                            {"seed", cfg.seed},
                            {"threads", nl::get_num_threads()},
                            {"seconds", seconds}};
  for (const auto& [norm, s] : summarize(results.rows)) {
    nlohmann::json j = {{"errors", s.errors}};
    for (const auto& [mode, m] : s.maxima) {
      j[mode + "_max_diff_linear_output"] = m.linear_output;
      j[mode + "_max_diff_norm_output"] = m.norm_output;
      j[mode + "_max_diff_logits"] = m.logits;
      j[mode + "_max_diff_between_compositions"] = m.between_compositions;
    }
    summary[norm] = j;
  }
  return summary;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  if (std::optional<int> exit_code = parse_options(argc, argv, cfg)) return *exit_code;
  nl::set_num_threads(int(cfg.threads));
  return examples::run_or_report_error(cfg.detect_anomaly, [&] {
    Clock::time_point start = Clock::now();
    Results results = run(cfg, start);
    print_table(cfg, results.rows);
    write_csvs(cfg, results);
    examples::write_and_print_json(cfg.out + "/results.json", to_json(cfg, results, seconds_since(start)));
  });
}

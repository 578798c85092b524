// mlp_norm: permutation-invariant Fashion-MNIST (the 28×28 images as flat
// rows of 784 pixels, so no convolution can exploit their layout) with an MLP
// 784-256-256-10, a normalization layer before each ReLU — none, BatchNorm,
// LayerNorm, RMSNorm or Batch Renormalization (its limits relaxed over the
// run, examples/common/renorm_schedule.h) — to measure what normalization
// changes, and how BatchNorm's dependence on the batch (Ba et al. 2016) shows
// at batch size 4.
//
//   build/bin/mlp_norm --norm layer --batch-size 128 --epochs 1
//   build/bin/mlp_norm --sweep --seeds 3        # {none, batch, layer, renorm} × batch {128, 4}
//
// Data: Debian's dataset-fashion-mnist by default, any MNIST-format directory
// with --data. Pixels x/255 standardized with the training set's mean and std
// (one scalar each). Batches: a fresh shuffle per epoch from --seed; the last
// partial batch is dropped so every step sees exactly --batch-size samples.
// --limit N trains on the first N training samples and tests on the first
// ceil(N/6) test samples (the full sets' 60000:10000 ratio), for quick runs.
//
// Output: a progress line on stderr; steps.csv (every step's loss) and
// result.json in --out; the final JSON line on stdout. --sweep writes
// results.csv, summary.md, curves.csv, sweep.gp and sweep.png (sweep.h).
// --detect-anomaly stops at the first op that makes a NaN or inf and names it
// (nl::DetectAnomalyGuard) instead of reporting the run as diverged.
//
// Stopping and resuming (as char_lm's, train/run_checkpoints.h):
//
//   build/bin/mlp_norm --norm batch --checkpoint-dir results/ckpt --checkpoint-every 100
//   build/bin/mlp_norm --norm batch --checkpoint-dir results/ckpt --checkpoint-every 100 --resume
//
// A checkpoint (DIR/step_<N>.safetensors, the newest --keep-checkpoints kept)
// holds the model, the optimizer, the global generator and the run's log
// (steps.csv's rows and the losses so far); the batch order needs nothing
// more, as epoch e's shuffle is a function of --seed and e, and global step s
// is batch s mod steps-per-epoch of epoch s div steps-per-epoch. Written every
// --checkpoint-every steps, after the last step, and when SIGINT or SIGTERM
// arrives (the step finishes, the run ends with 128 + signal saying how to
// resume; a second signal exits at once). --resume continues from the newest
// valid checkpoint (a damaged one is skipped with a warning naming it) and
// ends as the uninterrupted run: the same losses, steps.csv and result.json
// (but the seconds) and parameters, bit for bit, even after kill -9. A
// checkpoint of another model, norm, optimizer setting or data set (its sizes
// and FNV-1a fingerprints: --limit or other files are another data set) is
// refused, naming the file and the difference; so is an empty directory, and
// a used one without --resume. With --sweep each run keeps its checkpoints in
// DIR/<norm>_b<batch>_seed<s>; resumed, the finished runs are loaded from
// their last checkpoint and evaluated again (evaluation is a function of the
// parameters), the interrupted one continues and the rest start, so the
// sweep's files are those of an uninterrupted sweep (but the seconds). Under
// --distributed rank 0 writes one file for the job, with every rank's state
// in it, and every rank resumes from it (examples/common/job_checkpoints.h):
// resume under mpirun with the same -np.
//
// torch_mlp_norm.py next to this file is the same program in PyTorch (same
// flags, same JSON); with --save-init DIR here and --init-from DIR there both
// start from the same weights and see the same batches.
//
// Data-parallel across processes (docs/distributed.md):
//
//   mpirun -np 2 build/bin/mlp_norm --distributed --norm batch --sync-bn
//   mpirun -np 2 build/bin/mlp_norm --distributed --norm layer
//
// Every rank trains the same model on its share of each global batch of
// --batch-size × N samples (the batches of one process with that batch size,
// split); gradients are averaged. --norm batch keeps per-rank statistics
// (BatchNorm1d) unless --sync-bn makes them global (SyncBatchNorm). Rank 0
// prints and writes; steps.csv gets each step's compute and communication time
// and the bytes and calls of gradient and normalization sync, the JSON their
// per-step means and totals. Evaluation: every rank evaluates 1/N of the test
// set with rank 0's running statistics and the sums are all-reduced.
#include <CLI/CLI.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "examples/common/checkpoint_options.h"
#include "examples/common/cli.h"
#include "examples/common/distributed.h"
#include "examples/mlp_norm/sweep.h"
#include "examples/mlp_norm/train.h"
#include "normlab.h"

namespace {

struct Options {
  mlp_norm::RunConfig run;
  std::string data_dir = nl::data::kFashionMnistDir, out = "results/mlp_norm";
  int64_t limit = 0, seeds = 1;
  int threads = 2;
  bool sweep = false, detect_anomaly = false;
  // given on the command line (the sweep sets the first three itself)
  bool norm_given = false, batch_size_given = false, lr_given = false, threads_given = false;
};

// Fills o from the command line; the exit code when there is nothing to run
// (--help, --version, a bad option).
std::optional<int> parse_options(int argc, char** argv, Options& o) {
  mlp_norm::RunConfig& run = o.run;
  CLI::App app{"Train an MLP 784-256-256-10 on Fashion-MNIST with and without normalization"};
  app.add_option("--norm", run.norm,
                 "normalization before each ReLU: none, batch, layer, rms or renorm (Batch Renormalization)")
      ->check(CLI::IsMember({"none", "batch", "layer", "rms", "renorm"}))
      ->capture_default_str();
  app.add_option("--batch-size", run.batch_size, "samples per step")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  app.add_option("--epochs", run.epochs, "passes over the training set")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--lr", run.lr, "learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--optim", run.optim, "optimizer: sgd or adam")
      ->check(CLI::IsMember({"sgd", "adam"}))
      ->capture_default_str();
  app.add_option("--momentum", run.momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  app.add_option("--seed", run.seed, "seed of the initial weights and the batch order")->capture_default_str();
  app.add_option("--hidden", run.hidden, "units in each of the two hidden layers")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  app.add_option("--data", o.data_dir, "directory of MNIST-format IDX files (plain or .gz)")->capture_default_str();
  app.add_option("--limit", o.limit, "train on the first N samples and test on the first ceil(N/6) (0: all)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "threads (per process; --distributed: default cores / processes)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--out", o.out, "directory for CSV, JSON and plots")->capture_default_str();
  app.add_option("--save-init", run.save_init_dir,
                 "write the initial weights and the batch order as .npy into this directory, for "
                 "torch_mlp_norm.py --init-from (a step-by-step comparison with PyTorch)");
  app.add_flag("--sweep", o.sweep,
               "run norm {none, batch, layer, renorm} x batch size {128 (lr 0.05), 4 (lr 0.0125)} and summarize; "
               "uses --epochs --optim --momentum --seed --seeds --limit");
  app.add_option("--seeds", o.seeds, "with --sweep: seeds per config (--seed, --seed+1, ...)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_flag("--detect-anomaly", o.detect_anomaly,
               "name the first op that produces NaN/inf (nl::DetectAnomalyGuard)");
  app.add_flag("--distributed", run.distributed,
               "data-parallel training on the processes of `mpirun -np N`: global batch = --batch-size x N, "
               "gradients averaged, rank 0 prints and writes");
  app.add_flag("--sync-bn", run.sync_bn,
               "with --distributed --norm batch: SyncBatchNorm (statistics of the global batch) instead of "
               "per-process BatchNorm1d statistics");
  examples::add_checkpoint_options(app, run.checkpoint);
  if (std::optional<int> exit_code = examples::parse_command_line(app, argc, argv)) return exit_code;
  o.norm_given = app.count("--norm") > 0;
  o.batch_size_given = app.count("--batch-size") > 0;
  o.lr_given = app.count("--lr") > 0;
  o.threads_given = app.count("--threads") > 0;
  return std::nullopt;
}

// Refuses what --distributed cannot do, before the job starts.
void check_distributed_options(const Options& o) {
  const mlp_norm::RunConfig& run = o.run;
  if (run.sync_bn && (run.norm != "batch" || !run.distributed))
    nl::fail(
        "mlp_norm: --sync-bn synchronizes BatchNorm's statistics across processes: it needs --norm batch and "
        "--distributed (got --norm {}{})",
        run.norm, run.distributed ? "" : " without --distributed");
  if (run.distributed && (o.sweep || !run.save_init_dir.empty()))
    nl::fail("mlp_norm: --distributed trains a single run; --sweep and --save-init run on one process");
}

// Refuses options that belong to the other mode (a sweep or a single run).
void check_sweep_options(const Options& o) {
  if (o.sweep && (o.norm_given || o.batch_size_given || o.lr_given))
    nl::fail(
        "mlp_norm: --sweep sets norm, batch size and lr itself (lr 0.05 at batch 128, 0.0125 at 4); "
        "drop --norm, --batch-size and --lr");
  if (!o.sweep && o.seeds != 1) nl::fail("mlp_norm: --seeds is for --sweep; a single run uses --seed");
  if (o.sweep && !o.run.save_init_dir.empty()) nl::fail("mlp_norm: --save-init is for a single run, not --sweep");
}

// The data set, --limit applied, said on stderr (rank 0) with the time it took.
nl::data::Mnist load_data(const Options& o) {
  auto start = std::chrono::steady_clock::now();
  nl::data::MnistOptions options;
  if (o.limit > 0) {
    options.train_limit = o.limit;
    options.test_limit = (o.limit + 5) / 6;
  }
  nl::data::Mnist data = nl::data::load_mnist(o.data_dir, options);
  if (nl::dist::is_main())
    fmt::print(
        stderr, "{}: {} training / {} test images of {}x{}, {} classes, pixel mean {:.4f} std {:.4f} ({:.1f} s)\n",
        o.data_dir, data.train.size(), data.test.size(), data.height, data.width, data.num_classes, data.pixel_mean,
        data.pixel_std, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return data;
}

// One run (on every rank under --distributed): trains, then rank 0 writes
// result.json and prints the result, the communication line and the JSON line.
void run_single(const Options& o, const nl::data::Mnist& data) {
  const mlp_norm::RunConfig& run = o.run;
  bool prints = nl::dist::is_main();
  if (prints) nl::io::create_directories(o.out);
  std::string label = run.distributed
                          ? fmt::format("{}{} np{}", run.norm, run.sync_bn ? " sync" : "", nl::dist::world_size())
                          : run.norm;
  mlp_norm::RunResult result = mlp_norm::train_run(run, data, o.out + "/steps.csv", label);
  if (!prints) return;
  nlohmann::json line = mlp_norm::to_json(result, data);
  nl::train::write_json(o.out + "/result.json", line);
  fmt::print("norm {}  batch {}  test acc {:.4f}  test loss {:.4f}  train loss {:.4f}  {:.1f} s{}\n", run.norm,
             run.batch_size, result.test_acc, result.test_loss, result.train_loss, result.seconds,
             result.diverged ? "  (diverged)" : "");
  if (result.distributed) {
    std::string norm = fmt::format("norm {}{}", run.norm,
                                   run.norm != "batch" ? ""
                                   : run.sync_bn       ? " (SyncBatchNorm)"
                                                       : " (local BatchNorm1d)");
    std::string in_sync =
        result.params_in_sync ? (result.buffers_in_sync ? "yes" : "parameters (running statistics differ)") : "no";
    fmt::print("{}\n", examples::distributed_summary(norm, *result.distributed, run.batch_size, in_sync));
  }
  fmt::print("{}\n", nl::train::json_text(line));
}

// The sweep (one process): its runs and summary, then the summary's JSON line.
void run_sweep(const Options& o, const nl::data::Mnist& data) {
  mlp_norm::SweepConfig cfg{.epochs = o.run.epochs,
                            .optim = o.run.optim,
                            .momentum = o.run.momentum,
                            .seed = o.run.seed,
                            .seeds = o.seeds,
                            .hidden = o.run.hidden,
                            .out = o.out,
                            .checkpoint = o.run.checkpoint};
  fmt::print("{}\n", nl::train::json_text(mlp_norm::run_sweep(cfg, data).to_json()));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (std::optional<int> exit_code = parse_options(argc, argv, o)) return *exit_code;
  std::optional<nl::dist::Context> job;  // outlives everything that communicates
  try {
    check_distributed_options(o);
    examples::start_job(job, "mlp_norm", o.run.distributed, argc, argv);
  } catch (const std::exception& e) {
    return examples::fail_run(e);
  }
  nl::set_num_threads(examples::threads_per_process(o.run.distributed, o.threads_given, o.threads));
  try {
    nl::DetectAnomalyGuard anomaly(o.detect_anomaly);
    check_sweep_options(o);
    nl::data::Mnist data = load_data(o);
    if (o.sweep)
      run_sweep(o, data);
    else
      run_single(o, data);
  } catch (const std::exception& e) {
    return examples::fail_run(e);
  }
  return 0;
}

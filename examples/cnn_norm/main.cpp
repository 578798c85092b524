// cnn_norm: a small CNN (models::CNN: three 3×3 conv blocks 32-64-128, the
// norm after each convolution) on Fashion-MNIST, to test what the literature
// says about normalizing convolutional networks:
//   Ba et al. 2016       BatchNorm beats LayerNorm on ConvNets;
//   Wu & He 2018         BatchNorm's error climbs as the batch shrinks, GroupNorm's stays;
//   Ioffe 2017           Batch Renormalization recovers BN's small and non-i.i.d. batches;
//   Salimans & Kingma    weight normalization trains faster than no normalization.
//
//   build/bin/cnn_norm --norm group --batch-size 4
//   build/bin/cnn_norm --sweep                  # 7 norms × batch {128, 32, 16, 8, 4, 2} × 3 seeds
//   build/bin/cnn_norm --sweep --noniid         # BN, Batch Renorm, GN, LN on batches of 2 classes
//
// Norms (--norm): none, batch (BatchNorm2d), group (GroupNorm, --groups),
// instance (InstanceNorm2d, affine), layer (LayerNorm over C×H×W),
// batch_renorm (BatchRenorm2d, limits relaxed by examples/common/renorm_schedule.h),
// weight (weight_norm on every conv and the Linear, no activation norm).
// Optimizer: SGD with momentum (--momentum 0.9); lr = --base-lr × batch / 32,
// the linear scaling rule Wu & He use (their 0.1 × N/32), unless --lr is given.
//
// Data as mlp_norm's (Debian's dataset-fashion-mnist by default, --data,
// --limit N: the first N training and ceil(N/6) test samples), the images as
// (N, 1, 28, 28). Batches: batches.h (--noniid: two classes per batch).
// Output: a progress line on stderr; steps.csv (every step's loss) and
// result.json in --out; the final JSON line on stdout. --sweep writes the
// files listed in sweep.h, with sweep.png (Wu & He's Figure 1 and the curves).
// Checkpoints and --resume as mlp_norm's (--checkpoint-dir, --checkpoint-every,
// --keep-checkpoints, --resume; per run under --sweep).
// torch_cnn_norm.py next to this file is the same program in PyTorch (same
// flags and JSON); --save-init DIR here and --init-from DIR there start both
// from the same weights and batches.
#include <CLI/CLI.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "examples/cnn_norm/sweep.h"
#include "examples/cnn_norm/train.h"
#include "examples/common/checkpoint_options.h"
#include "examples/common/cli.h"
#include "examples/common/report.h"
#include "normlab.h"

namespace {

struct Options {
  cnn_norm::RunConfig run;
  cnn_norm::SweepConfig sweep;
  std::string data_dir = nl::data::kFashionMnistDir, out = "results/cnn_norm";
  double base_lr = 0.02;
  int64_t limit = 0;
  int threads = 2;
  bool do_sweep = false, detect_anomaly = false;
  bool single_run_flags = false, sweep_flags = false;  // given: --norm/--batch-size/--lr/--save-init; --seeds/--sweep-*
};

std::optional<int> parse_options(int argc, char** argv, Options& o) {
  cnn_norm::RunConfig& run = o.run;
  CLI::App app{"Train a CNN on Fashion-MNIST with each normalization and batch size"};
  app.add_option("--norm", run.norm, "none, batch, group, instance, layer, batch_renorm or weight")
      ->check(CLI::IsMember({"none", "batch", "group", "instance", "layer", "batch_renorm", "weight"}))
      ->capture_default_str();
  app.add_option("--batch-size", run.batch_size, "samples per step")->check(CLI::Range(1, 65536))->capture_default_str();
  app.add_option("--epochs", run.epochs, "passes over the training set")->check(CLI::Range(1, 1000))->capture_default_str();
  auto* lr = app.add_option("--lr", run.lr, "learning rate (default: --base-lr x batch / 32)")->check(CLI::PositiveNumber);
  app.add_option("--base-lr", o.base_lr, "the learning rate at batch 32; lr = base-lr x batch / 32")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--momentum", run.momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  app.add_option("--groups", run.groups, "GroupNorm's groups (--norm group)")->check(CLI::Range(1, 128))->capture_default_str();
  app.add_option("--seed", run.seed, "seed of the initial weights and the batch order")->capture_default_str();
  app.add_flag("--noniid", run.noniid, "every batch holds 2 classes, half each (Ioffe 2017's non-i.i.d. setting)");
  app.add_option("--data", o.data_dir, "directory of MNIST-format IDX files (plain or .gz)")->capture_default_str();
  app.add_option("--limit", o.limit, "train on the first N samples and test on the first ceil(N/6) (0: all)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "threads")->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--out", o.out, "directory for CSV, JSON and plots")->capture_default_str();
  app.add_option("--save-init", run.save_init_dir,
                 "write the initial weights and the batch order as .npy here, for torch_cnn_norm.py --init-from");
  app.add_flag("--sweep", o.do_sweep, "run every norm x batch size for --seeds seeds and summarize (sweep.h)");
  app.add_option("--seeds", o.sweep.seeds, "with --sweep: seeds per config (--seed, --seed+1, ...)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--sweep-norms", o.sweep.norms, "with --sweep: the norms (default: all; --noniid: batch, "
                 "batch_renorm, group, layer)")
      ->delimiter(',')
      ->check(CLI::IsMember({"none", "batch", "group", "instance", "layer", "batch_renorm", "weight"}));
  app.add_option("--sweep-batches", o.sweep.batch_sizes, "with --sweep: the batch sizes (default 128,32,16,8,4,2; "
                 "--noniid: 128,32,8)")
      ->delimiter(',')
      ->check(CLI::Range(1, 65536));
  app.add_flag("--detect-anomaly", o.detect_anomaly, "name the first op that produces NaN/inf");
  examples::add_checkpoint_options(app, run.checkpoint);
  if (std::optional<int> exit_code = examples::parse_command_line(app, argc, argv)) return exit_code;
  o.single_run_flags = app.count("--norm") || app.count("--batch-size") || lr->count() || app.count("--save-init");
  o.sweep_flags = app.count("--seeds") || app.count("--sweep-norms") || app.count("--sweep-batches");
  if (!lr->count()) run.lr = cnn_norm::scaled_lr(o.base_lr, run.batch_size);
  return std::nullopt;
}

// Refuses options that belong to the other mode (a sweep or a single run).
void check_options(const Options& o) {
  if (o.do_sweep && o.single_run_flags)
    nl::fail("cnn_norm: --sweep sets norm, batch size and lr itself (--sweep-norms, --sweep-batches, --base-lr); "
             "drop --norm, --batch-size, --lr and --save-init");
  if (!o.do_sweep && o.sweep_flags)
    nl::fail("cnn_norm: --seeds, --sweep-norms and --sweep-batches are for --sweep; a single run uses --seed");
}

nl::data::Mnist load_data(const Options& o) {
  auto start = std::chrono::steady_clock::now();
  nl::data::MnistOptions options;
  if (o.limit > 0) options = {.train_limit = o.limit, .test_limit = (o.limit + 5) / 6};
  nl::data::Mnist data = nl::data::load_mnist(o.data_dir, options);
  fmt::print(stderr, "{}: {} training / {} test images of {}x{}, {} classes ({:.1f} s)\n", o.data_dir,
             data.train.size(), data.test.size(), data.height, data.width, data.num_classes,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return data;
}

void run_sweep(Options& o, const nl::data::Mnist& data) {
  cnn_norm::SweepConfig& s = o.sweep;
  if (s.norms.empty()) s.norms = cnn_norm::default_sweep_norms(o.run.noniid);
  if (s.batch_sizes.empty()) s.batch_sizes = cnn_norm::default_sweep_batch_sizes(o.run.noniid);
  s.epochs = o.run.epochs, s.base_lr = o.base_lr, s.momentum = o.run.momentum, s.groups = o.run.groups;
  s.noniid = o.run.noniid, s.seed = o.run.seed, s.out = o.out, s.checkpoint = o.run.checkpoint;
  fmt::print("{}\n", nl::train::json_text(cnn_norm::run_sweep(s, data).to_json()));
}

void run_single(const Options& o, const nl::data::Mnist& data) {
  nl::io::create_directories(o.out);
  cnn_norm::RunResult r = cnn_norm::train_run(o.run, data, o.out + "/steps.csv", o.run.norm);
  fmt::print("norm {}  batch {}  lr {}  test error {:.2f}%  test loss {:.4f}  train loss {:.4f}  {:.1f} s{}\n",
             o.run.norm, o.run.batch_size, o.run.lr, 100 * (1 - r.test_acc), r.test_loss, r.train_loss, r.seconds,
             r.diverged ? "  (diverged)" : "");
  examples::write_and_print_json(o.out + "/result.json", cnn_norm::to_json(r, data));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (std::optional<int> exit_code = parse_options(argc, argv, o)) return *exit_code;
  nl::set_num_threads(o.threads);
  return examples::run_or_report_error(
      o.detect_anomaly,
      [&] {
        check_options(o);
        nl::data::Mnist data = load_data(o);
        if (o.do_sweep)
          run_sweep(o, data);
        else
          run_single(o, data);
      },
      true);
}

// char_lm: a character-level LSTM language model on a text corpus (Debian's
// fortunes by default) with one of three cells — plain (lstm), layer-normalized
// (ln-lstm, Ba et al. 2016) or batch-normalized with statistics per time step
// (bn-lstm, Cooijmans et al. 2016). Reports validation bits per character at
// the training length and, with --eval-seq-len, on longer sequences than it
// was trained on: there BN-LSTM has run out of per-step statistics and falls
// back on the last step's, while LN works the same at any length.
//
//   build/bin/char_lm --cell ln-lstm --steps 2000
//   build/bin/char_lm --compare --steps 600 --eval-seq-len 256     # all three, one plot
//   mpirun -np 2 build/bin/char_lm --distributed --cell ln-lstm    # data-parallel, 2 × --batch-size windows a step
//
// --distributed (examples/common/lm_training.h, docs/distributed.md): every
// rank trains on windows of its own, gradients are averaged; rank 0 prints,
// samples and writes, steps.csv gets each step's compute and communication.
// --cell bn-lstm under --distributed is unsynchronized local BatchNorm: each
// rank normalizes with the statistics of its own windows (there is no
// SyncBatchNorm inside the cell), and evaluation uses rank 0's running
// statistics. ln-lstm needs no communication for its normalization at all.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "examples/common/cli.h"
#include "examples/common/distributed.h"
#include "examples/common/lm_program.h"
#include "examples/common/report.h"
#include "normlab.h"

namespace {

using nl::layers::LSTMCell;

struct Config : examples::LMProgramConfig {
  std::string cell = "ln-lstm";
  int64_t embed = 32, hidden = 256, num_layers = 1;
  bool threads_given = false;  // --threads on the command line (else, distributed: cores / processes)
};

struct Results {
  double unigram_bpc = 0;                     // the corpus's unigram entropy, bits per character
  std::vector<examples::LMTrainResult> runs;  // one per cell, labelled with it
};

// Fills cfg from the command line; the exit code when there is nothing to run
// (--help, --version, a bad option).
std::optional<int> parse_options(int argc, char** argv, Config& cfg) {
  cfg.train.steps = 1000;
  cfg.train.lr = 3e-3;
  cfg.out = "results/char_lm";
  CLI::App app{"Character-level LSTM language model: plain, layer-normalized or batch-normalized cell"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--cell", cfg.cell, "lstm, ln-lstm or bn-lstm")->check(CLI::IsMember({"lstm", "ln-lstm", "bn-lstm"}));
  app.add_flag("--compare", cfg.compare, "train all three cells from the same seed and plot them together");
  examples::add_corpus_options(app, cfg, /*min_batch_size=*/2, "characters per training sequence");
  app.add_option("--eval-seq-len", cfg.train.eval_seq_len, "also evaluate on sequences this long (0: off)")
      ->check(CLI::Range(0, 100000));
  app.add_option("--embed", cfg.embed, "embedding size")->check(CLI::Range(1, 4096));
  app.add_option("--hidden", cfg.hidden, "LSTM hidden size")->check(CLI::Range(1, 8192));
  app.add_option("--layers", cfg.num_layers, "LSTM layers")->check(CLI::Range(1, 16));
  app.add_option("--lr", cfg.train.lr, "Adam learning rate (cosine decay to lr/10)")->check(CLI::PositiveNumber);
  app.add_option("--warmup", cfg.train.warmup, "linear warmup steps")->check(CLI::Range(0, 10000000));
  examples::add_run_options(app, cfg, "threads (per process; --distributed: default cores / processes)");
  app.add_flag("--distributed", cfg.train.distributed,
               "data-parallel training on the processes of `mpirun -np N`: each draws --batch-size windows of its own "
               "per step, gradients averaged, rank 0 prints and writes (bn-lstm: each process keeps local per-step BN "
               "statistics, not synchronized: the cell has no SyncBatchNorm)");
  if (std::optional<int> exit_code = examples::parse_command_line(app, argc, argv)) return exit_code;
  cfg.threads_given = app.count("--threads") > 0;
  // what a --resume must share with the checkpoint besides the training options (lm_checkpoints.h)
  cfg.train.checkpoint.identity = {{"cell", cfg.cell},
                                   {"embed", std::to_string(cfg.embed)},
                                   {"hidden", std::to_string(cfg.hidden)},
                                   {"layers", std::to_string(cfg.num_layers)}};
  return std::nullopt;
}

LSTMCell parse_cell(const std::string& s) {
  if (s == "lstm") return LSTMCell::plain;
  if (s == "ln-lstm") return LSTMCell::layer_norm;
  return LSTMCell::batch_norm;
}

// Trains the cell (all three with --compare), each from the same seed.
Results run(const Config& cfg) {
  nl::data::TextCorpus corpus = examples::load_corpus(cfg.corpus);
  Results results{.unigram_bpc = examples::unigram_bits_per_char(corpus)};
  if (nl::dist::is_main())
    fmt::print(stderr, "corpus: {} characters, vocabulary {}, {} for training; unigram entropy {:.3f} bits/char\n",
               corpus.text().size(), corpus.vocab_size(), corpus.train().numel(), results.unigram_bpc);
  std::vector<std::string> cells =
      cfg.compare ? std::vector<std::string>{"lstm", "ln-lstm", "bn-lstm"} : std::vector<std::string>{cfg.cell};
  for (const std::string& cell : cells) {
    nl::manual_seed(cfg.train.seed);
    // BN-LSTM keeps statistics for the training length only: longer sequences reuse the last step's
    nl::models::CharLSTM model(corpus.vocab_size(), cfg.embed, cfg.hidden, cfg.num_layers, parse_cell(cell), 0.0,
                               /*max_steps=*/cfg.train.seq_len);
    results.runs.push_back(examples::train_language_model(examples::language_model(model), corpus, cfg.train, cell));
  }
  return results;
}

// The final JSON line and results.json: the configuration and every run
// (with one run, its results at the top level too).
nlohmann::json to_json(const Config& cfg, const Results& results) {
  nlohmann::json runs = nlohmann::json::array();
  for (const examples::LMTrainResult& run : results.runs) {
    nlohmann::json j = run.to_json();
    j["cell"] = run.label;
    runs.push_back(j);
  }
  nlohmann::json summary = {{"program", "char_lm"},
                            {"steps", cfg.train.steps},
                            {"batch_size", cfg.train.batch_size},
                            {"seq_len", cfg.train.seq_len},
                            {"eval_seq_len", cfg.train.eval_seq_len},
                            {"hidden", cfg.hidden},
                            {"embed", cfg.embed},
                            {"layers", cfg.num_layers},
                            {"lr", cfg.train.lr},
                            {"seed", cfg.train.seed},
                            {"temperature", cfg.train.temperature},
                            {"top_k", cfg.train.top_k},
                            {"unigram_bpc", results.unigram_bpc},
                            {"runs", runs}};
  if (cfg.train.distributed) {
    summary["distributed"] = true;
    summary["global_batch"] = cfg.train.batch_size * nl::dist::world_size();
  }
  if (!cfg.compare) summary.update(runs[0]);
  return summary;
}

// Per run: the step's time split into compute and communication, the bytes,
// and whether the ranks stayed in sync.
std::string distributed_line(const examples::LMTrainResult& run, int64_t batch_size) {
  std::string in_sync = !run.params_in_sync ? "no" : run.eval_in_sync ? "yes" : "parameters (evaluation differs)";
  std::string label = run.label == "bn-lstm" ? run.label + " (local per-step BN statistics)" : run.label;
  return examples::distributed_summary(label, *run.distributed, batch_size, in_sync);
}

// Writes the CSVs, the plot and results.json; prints the table, the samples and the JSON line.
void report(const Config& cfg, const Results& results) {
  examples::write_lm_csvs(cfg.out, "cell", results.runs, cfg.train.distributed);
  int64_t long_len = cfg.train.eval_seq_len;  // > 0: evaluated on longer windows too (dashed)
  std::string plot = nl::train::gnuplot::lines_by_label(
      cfg.out + "/eval.csv", cfg.out + "/val_bpc.png", examples::labels_with_curve(results.runs), "step",
      "validation bits per character", {{5, fmt::format("len {}", cfg.train.seq_len)}},
      long_len > 0 ? std::vector<std::pair<int, std::string>>{{6, fmt::format("len {}", long_len)}}
                   : std::vector<std::pair<int, std::string>>{});
  bool plotted = nl::train::gnuplot::render(cfg.out + "/val_bpc.gp", plot);

  fmt::print("\n{:<8} {:>10} {:>13} {:>14} {:>8}\n", "cell", "train_loss", "val_bits/char",
             long_len > 0 ? fmt::format("bits/char@{}", long_len) : std::string("-"), "seconds");
  for (const examples::LMTrainResult& run : results.runs)
    fmt::print("{:<8} {:>10} {:>13} {:>14} {:>8.1f}\n", run.label, examples::fmt_number(run.final_train_loss(), 4),
               examples::fmt_number(run.final_val_loss() / std::numbers::ln2, 3),
               long_len > 0 ? examples::fmt_number(run.final_val_loss_long() / std::numbers::ln2, 3) : "-",
               run.seconds);
  examples::print_unigram_entropy(results.unigram_bpc);
  if (cfg.train.distributed)
    for (const examples::LMTrainResult& run : results.runs)
      fmt::print("{}\n", distributed_line(run, cfg.train.batch_size));
  for (const examples::LMTrainResult& run : results.runs) examples::print_sample(run, cfg.train);
  fmt::print("\nwrote {}/steps.csv, eval.csv{}\n", cfg.out, plotted ? ", val_bpc.png" : "");

  examples::write_and_print_json(cfg.out + "/results.json", to_json(cfg, results));
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  if (std::optional<int> exit_code = parse_options(argc, argv, cfg)) return *exit_code;
  std::optional<nl::dist::Context> job;  // outlives everything that communicates
  try {
    examples::start_job(job, "char_lm", cfg.train.distributed, argc, argv);
    nl::set_num_threads(examples::threads_per_process(cfg.train.distributed, cfg.threads_given, int(cfg.threads)));
    nl::DetectAnomalyGuard anomaly(cfg.detect_anomaly);
    Results results = run(cfg);
    if (nl::dist::is_main()) report(cfg, results);  // rank 0 writes and prints
  } catch (const std::exception& e) {
    return examples::fail_run(e);
  }
  return 0;
}

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

#include "examples/common/distributed.h"
#include "examples/common/lm_training.h"
#include "examples/common/report.h"
#include "normlab.h"

namespace {

using nl::layers::LSTMCell;

struct Config {
  examples::LMTrainConfig train;
  std::string cell = "ln-lstm";
  bool compare = false;
  std::string corpus;  // empty: Debian's fortunes
  int64_t embed = 32, hidden = 256, num_layers = 1, threads = 2;
  bool detect_anomaly = false;
  std::string out = "results/char_lm";
};

LSTMCell parse_cell(const std::string& s) {
  if (s == "lstm") return LSTMCell::plain;
  if (s == "ln-lstm") return LSTMCell::layer_norm;
  return LSTMCell::batch_norm;
}

nlohmann::json run(const Config& cfg, const std::string& cell, const nl::data::TextCorpus& corpus,
                   std::vector<std::string>& step_rows, std::vector<std::string>& eval_rows) {
  nl::manual_seed(cfg.train.seed);
  // BN-LSTM keeps statistics for the training length only: longer sequences reuse the last step's
  nl::models::CharLSTM model(corpus.vocab_size(), cfg.embed, cfg.hidden, cfg.num_layers, parse_cell(cell), 0.0,
                             /*max_steps=*/cfg.train.seq_len);
  auto result =
      examples::train_language_model(examples::language_model(model), corpus, cfg.train, cell, step_rows, eval_rows);
  nlohmann::json j = result.to_json();
  j["cell"] = cell;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  cfg.train.steps = 1000;
  cfg.train.lr = 3e-3;
  CLI::App app{"Character-level LSTM language model: plain, layer-normalized or batch-normalized cell"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--cell", cfg.cell, "lstm, ln-lstm or bn-lstm")->check(CLI::IsMember({"lstm", "ln-lstm", "bn-lstm"}));
  app.add_flag("--compare", cfg.compare, "train all three cells from the same seed and plot them together");
  app.add_option("--corpus", cfg.corpus, "a text file or a directory of them (default: Debian's fortunes)");
  app.add_option("--steps", cfg.train.steps, "training steps")->check(CLI::Range(int64_t(1), int64_t(10000000)));
  app.add_option("--batch-size", cfg.train.batch_size, "sequences per step")->check(CLI::Range(2, 4096));
  app.add_option("--seq-len", cfg.train.seq_len, "characters per training sequence")->check(CLI::Range(1, 4096));
  app.add_option("--eval-seq-len", cfg.train.eval_seq_len, "also evaluate on sequences this long (0: off)")
      ->check(CLI::Range(0, 100000));
  app.add_option("--embed", cfg.embed, "embedding size")->check(CLI::Range(1, 4096));
  app.add_option("--hidden", cfg.hidden, "LSTM hidden size")->check(CLI::Range(1, 8192));
  app.add_option("--layers", cfg.num_layers, "LSTM layers")->check(CLI::Range(1, 16));
  app.add_option("--lr", cfg.train.lr, "Adam learning rate (cosine decay to lr/10)")->check(CLI::PositiveNumber);
  app.add_option("--warmup", cfg.train.warmup, "linear warmup steps")->check(CLI::Range(0, 10000000));
  app.add_option("--clip", cfg.train.clip, "gradient-norm clip (0: off)")->check(CLI::NonNegativeNumber);
  app.add_option("--eval-every", cfg.train.eval_every, "steps between validation evaluations")->check(CLI::Range(1, 10000000));
  app.add_option("--eval-batches", cfg.train.eval_batches, "validation batches per evaluation")->check(CLI::Range(1, 10000));
  app.add_option("--sample-length", cfg.train.sample_length, "characters to generate at the end")->check(CLI::Range(0, 100000));
  app.add_option("--temperature", cfg.train.temperature, "sampling temperature")->check(CLI::Range(0.0, 10.0));
  app.add_option("--top-k", cfg.train.top_k, "sample only among the k likeliest characters (0: all)")
      ->check(CLI::Range(int64_t(0), int64_t(100000)));
  app.add_option("--seed", cfg.train.seed, "random seed");
  auto* threads_opt = app.add_option("--threads", cfg.threads, "threads (per process; --distributed: default cores / processes)")
                          ->check(CLI::Range(1, 256));
  app.add_option("--out", cfg.out, "directory for CSV, JSON and PNG");
  app.add_flag("--detect-anomaly", cfg.detect_anomaly, "name the first op that produces NaN/inf (nl::DetectAnomalyGuard)");
  app.add_flag("--distributed", cfg.train.distributed,
               "data-parallel training on the processes of `mpirun -np N`: each draws --batch-size windows of its own "
               "per step, gradients averaged, rank 0 prints and writes (bn-lstm: each process keeps local per-step BN "
               "statistics, not synchronized: the cell has no SyncBatchNorm)");
  CLI11_PARSE(app, argc, argv);

  std::optional<nl::dist::Context> job;
  try {
    examples::start_job(job, "char_lm", cfg.train.distributed, argc, argv);
  } catch (const std::exception& e) {
    return examples::fail_run(e);
  }
  nl::set_num_threads(examples::threads_per_process(cfg.train.distributed, threads_opt->count() > 0, int(cfg.threads)));
  bool prints = nl::dist::is_main();  // rank 0 prints, samples and writes

  try {
    nl::DetectAnomalyGuard anomaly(cfg.detect_anomaly);
    auto corpus = examples::load_corpus(cfg.corpus);
    double unigram = examples::unigram_bits_per_char(corpus);
    if (prints)
      fmt::print(stderr, "corpus: {} characters, vocabulary {}, {} for training; unigram entropy {:.3f} bits/char\n",
                 corpus.text().size(), corpus.vocab_size(), corpus.train().numel(), unigram);
    std::vector<std::string> cells = cfg.compare ? std::vector<std::string>{"lstm", "ln-lstm", "bn-lstm"}
                                                 : std::vector<std::string>{cfg.cell};
    std::vector<std::string> step_rows, eval_rows;
    nlohmann::json runs = nlohmann::json::array();
    std::vector<std::string> plotted_cells;
    for (const std::string& cell : cells) {
      size_t evaluations = eval_rows.size();
      runs.push_back(run(cfg, cell, corpus, step_rows, eval_rows));
      if (eval_rows.size() > evaluations) plotted_cells.push_back(cell);  // plot runs with a curve
    }
    if (!prints) return 0;

    nl::io::create_directories(cfg.out);
    nl::train::write_csv(cfg.out + "/steps.csv",
                        cfg.train.distributed ? "cell,step,loss,lr" + examples::step_csv_header() : "cell,step,loss,lr",
                        step_rows);
    nl::train::write_csv(cfg.out + "/eval.csv", "cell,step,train_loss,val_loss,val_bpc,val_bpc_long,seconds,cpu_seconds", eval_rows);
    bool long_eval = cfg.train.eval_seq_len > 0;
    std::string plot = nl::train::gnuplot::lines_by_label(
        cfg.out + "/eval.csv", cfg.out + "/val_bpc.png", plotted_cells, "step", "validation bits per character",
        {{5, fmt::format("len {}", cfg.train.seq_len)}}, long_eval ? std::vector<std::pair<int, std::string>>{{6, fmt::format("len {}", cfg.train.eval_seq_len)}} : std::vector<std::pair<int, std::string>>{});
    bool plotted = nl::train::gnuplot::render(cfg.out + "/val_bpc.gp", plot);

    fmt::print("\n{:<8} {:>10} {:>13} {:>14} {:>8}\n", "cell", "train_loss", "val_bits/char",
               long_eval ? fmt::format("bits/char@{}", cfg.train.eval_seq_len) : std::string("-"), "seconds");
    for (auto& r : runs)
      fmt::print("{:<8} {:>10} {:>13} {:>14} {:>8.1f}\n", r["cell"].get<std::string>(), examples::fmt_number(r["train_loss"], 4),
                 examples::fmt_number(r["val_bpc"], 3), long_eval ? examples::fmt_number(r["val_bpc_long"], 3) : "-",
                 r["seconds"].get<double>());
    fmt::print("(unigram entropy of the corpus: {:.3f} bits/char)\n", unigram);
    if (cfg.train.distributed)  // per run: the step's time split into compute and communication, and the bytes
      for (auto& r : runs) {
        std::string cell = r["cell"], in_sync = !r["params_in_sync"].get<bool>() ? "no"
                                                : r["eval_in_sync"].get<bool>()  ? "yes"
                                                                                 : "parameters (evaluation differs)";
        if (cell == "bn-lstm") cell += " (local per-step BN statistics)";
        fmt::print("{}\n", examples::distributed_summary(cell, r, cfg.train.batch_size, in_sync));
      }
    for (auto& r : runs)
      fmt::print("\n--- sample ({}, temperature {}{}) ---\n{}\n", r["cell"].get<std::string>(), cfg.train.temperature,
                 cfg.train.top_k > 0 ? fmt::format(", top-k {}", cfg.train.top_k) : "", r["sample"].get<std::string>());
    fmt::print("\nwrote {}/steps.csv, eval.csv{}\n", cfg.out, plotted ? ", val_bpc.png" : "");

    nlohmann::json summary = {{"program", "char_lm"},       {"steps", cfg.train.steps},
                              {"batch_size", cfg.train.batch_size}, {"seq_len", cfg.train.seq_len},
                              {"eval_seq_len", cfg.train.eval_seq_len}, {"hidden", cfg.hidden},
                              {"embed", cfg.embed},         {"layers", cfg.num_layers},
                              {"lr", cfg.train.lr},         {"seed", cfg.train.seed},
                              {"temperature", cfg.train.temperature}, {"top_k", cfg.train.top_k},
                              {"unigram_bpc", unigram},     {"runs", runs}};
    if (cfg.train.distributed) {
      summary["distributed"] = true;
      summary["global_batch"] = cfg.train.batch_size * nl::dist::world_size();
    }
    if (!cfg.compare) summary.update(runs[0]);
    nl::train::write_json(cfg.out + "/results.json", summary);
    fmt::print("{}\n", nl::train::json_text(summary));
  } catch (const std::exception& e) {
    return examples::fail_run(e);
  }
  return 0;
}

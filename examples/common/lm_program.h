#pragma once
// What the two language-model programs (char_lm, transformer_norm) share
// around the training loop of lm_training.h: the command-line options they
// have in common, steps.csv and eval.csv, and the parts of the report that
// read alike. Each program keeps its own options in between (so its --help
// lists them in its order), its table and its JSON.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "examples/common/checkpoint_options.h"
#include "examples/common/lm_training.h"
#include "examples/common/step_log.h"
#include "normlab.h"

namespace examples {

// The configuration both programs have; each derives its own from it.
struct LMProgramConfig {
  LMTrainConfig train;
  bool compare = false;
  std::string corpus;  // empty: Debian's fortunes
  int64_t threads = 2;
  bool detect_anomaly = false;
  std::string out;
};

// --corpus --steps --batch-size --seq-len
inline void add_corpus_options(CLI::App& app, LMProgramConfig& cfg, int64_t min_batch_size,
                               const std::string& seq_len_help) {
  app.add_option("--corpus", cfg.corpus, "a text file or a directory of them (default: Debian's fortunes)");
  app.add_option("--steps", cfg.train.steps, "training steps")->check(CLI::Range(int64_t(1), int64_t(10000000)));
  app.add_option("--batch-size", cfg.train.batch_size, "sequences per step")
      ->check(CLI::Range(min_batch_size, int64_t(4096)));
  app.add_option("--seq-len", cfg.train.seq_len, seq_len_help)->check(CLI::Range(1, 4096));
}

// --checkpoint-dir --checkpoint-every --keep-checkpoints --resume
// (lm_checkpoints.h); one run at a time, so not with --compare.
inline void add_checkpoint_options(CLI::App& app, LMProgramConfig& cfg) {
  add_checkpoint_options(app, static_cast<nl::train::CheckpointOptions&>(cfg.train.checkpoint));
  app.final_callback([&cfg] {
    if (cfg.compare && !cfg.train.checkpoint.dir.empty())
      throw CLI::ValidationError("--checkpoint-dir", "checkpoints are for one run: not with --compare");
  });
}

// --clip --eval-every --eval-batches --sample-length --temperature --top-k
// --seed --threads --out --detect-anomaly, and add_checkpoint_options'
inline void add_run_options(CLI::App& app, LMProgramConfig& cfg, const std::string& threads_help) {
  app.add_option("--clip", cfg.train.clip, "gradient-norm clip (0: off)")->check(CLI::NonNegativeNumber);
  app.add_option("--eval-every", cfg.train.eval_every, "steps between validation evaluations")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--eval-batches", cfg.train.eval_batches, "validation batches per evaluation")
      ->check(CLI::Range(1, 10000));
  app.add_option("--sample-length", cfg.train.sample_length, "characters to generate at the end")
      ->check(CLI::Range(0, 100000));
  app.add_option("--temperature", cfg.train.temperature, "sampling temperature")->check(CLI::Range(0.0, 10.0));
  app.add_option("--top-k", cfg.train.top_k, "sample only among the k likeliest characters (0: all)")
      ->check(CLI::Range(int64_t(0), int64_t(100000)));
  app.add_option("--seed", cfg.train.seed, "random seed");
  app.add_option("--threads", cfg.threads, threads_help)->check(CLI::Range(1, 256));
  app.add_option("--out", cfg.out, "directory for CSV, JSON and PNG");
  app.add_flag("--detect-anomaly", cfg.detect_anomaly,
               "name the first op that produces NaN/inf (nl::DetectAnomalyGuard)");
  add_checkpoint_options(app, cfg);
}

// steps.csv and eval.csv in `out`: every run's rows, in order, under a header
// whose first column, the run's label, is called `label_column`.
inline void write_lm_csvs(const std::string& out, const std::string& label_column,
                          const std::vector<LMTrainResult>& runs, bool distributed) {
  std::vector<std::string> step_rows, eval_rows;
  for (const LMTrainResult& run : runs) {
    step_rows.insert(step_rows.end(), run.step_rows.begin(), run.step_rows.end());
    eval_rows.insert(eval_rows.end(), run.eval_rows.begin(), run.eval_rows.end());
  }
  nl::io::create_directories(out);
  nl::train::write_csv(out + "/steps.csv", StepLog::header(label_column + ",step,loss,lr", distributed), step_rows);
  nl::train::write_csv(out + "/eval.csv",
                       label_column + ",step,train_loss,val_loss,val_bpc,val_bpc_long,seconds,cpu_seconds", eval_rows);
}

// The labels of the runs with a validation curve: the lines a plot of eval.csv draws.
inline std::vector<std::string> labels_with_curve(const std::vector<LMTrainResult>& runs) {
  std::vector<std::string> labels;
  for (const LMTrainResult& run : runs)
    if (!run.curve.empty()) labels.push_back(run.label);
  return labels;
}

inline void print_unigram_entropy(double bits_per_char) {
  fmt::print("(unigram entropy of the corpus: {:.3f} bits/char)\n", bits_per_char);
}

// "--- sample (<label>, temperature 0.7, top-k 10) ---" and the text.
inline void print_sample(const LMTrainResult& run, const LMTrainConfig& cfg) {
  fmt::print("\n--- sample ({}, temperature {}{}) ---\n{}\n", run.label, cfg.temperature,
             cfg.top_k > 0 ? fmt::format(", top-k {}", cfg.top_k) : "", run.sample);
}

}  // namespace examples

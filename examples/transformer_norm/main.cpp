// transformer_norm: a character-level GPT on a text corpus (Debian's fortunes
// by default) with LayerNorm after each residual sum (post, the original
// Transformer), at the start of each branch (pre, GPT-2; Xiong et al. 2020
// show it trains without learning-rate warmup) or nowhere (none).
// --compare trains all three with and without warmup at a high learning rate
// and plots validation loss; a run whose loss stops being finite is reported
// as diverged, not as a crash. --init-gradients trains nothing: it measures
// Xiong et al.'s gradient norms at initialization (init_gradients.h).
//
//   build/bin/transformer_norm --norm pre --steps 2000
//   build/bin/transformer_norm --compare --d-model 64 --steps 800   # lr 1e-2, warmup 0 and 200
//   build/bin/transformer_norm --init-gradients                     # depths 2..16, 3 seeds, seconds
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "examples/common/cli.h"
#include "examples/common/lm_program.h"
#include "examples/common/report.h"
#include "examples/transformer_norm/init_gradients.h"
#include "normlab.h"

namespace {

// --compare's learning rate unless --lr is given: high enough that Post-LN
// without warmup can fail (d_model 64, 4 layers, 800 steps, lr 1e-2: stuck at
// the unigram loss in 3 of 6 runs with at most 80 warmup steps, seed 0 among
// them, and in none of 5 with 200 or more; at 5e-3 and below it needs no
// warmup; docs/experiments.md, section 6)
constexpr double kCompareLr = 1e-2;

struct Config : examples::LMProgramConfig {
  nl::models::GPTConfig model;
  std::string norm = "pre";
  bool init_gradients = false;
  transformer_norm::InitGradientOptions probe;
};

// One run: where the GPT normalizes, and how many warmup steps it gets.
struct Setup {
  std::string norm;
  int64_t warmup;
  std::string label() const { return fmt::format("{}-warmup{}", norm, warmup); }
};

struct Results {
  double unigram_bpc = 0;                     // the corpus's unigram entropy, bits per character
  std::vector<Setup> setups;                  // the runs, in order,
  std::vector<examples::LMTrainResult> runs;  // and what each gave
};

// Fills cfg from the command line; the exit code when there is nothing to run
// (--help, --version, a bad option).
std::optional<int> parse_options(int argc, char** argv, Config& cfg) {
  cfg.train.steps = 1000;
  cfg.train.lr = 1e-3;
  cfg.train.optimizer = "adamw";
  cfg.train.weight_decay = 0.01;
  cfg.model.d_model = 128;
  cfg.model.num_heads = 4;
  cfg.model.num_layers = 4;
  cfg.out = "results/transformer_norm";
  CLI::App app{"Character-level GPT with Post-LN, Pre-LN or no normalization"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--norm", cfg.norm, "post, pre or none")->check(CLI::IsMember({"post", "pre", "none"}));
  app.add_flag("--compare", cfg.compare,
               "train post, pre and none, each without warmup and with --warmup steps of it, and plot them");
  examples::add_corpus_options(app, cfg, /*min_batch_size=*/1, "characters per sequence (the context, block_size)");
  app.add_option("--layers", cfg.model.num_layers, "transformer blocks")->check(CLI::Range(0, 64));
  app.add_option("--d-model", cfg.model.d_model, "model width")->check(CLI::Range(1, 8192));
  app.add_option("--heads", cfg.model.num_heads, "attention heads")->check(CLI::Range(1, 256));
  app.add_option("--ff", cfg.model.dim_feedforward, "feed-forward width (0: 4·d_model)")->check(CLI::Range(0, 65536));
  app.add_option("--dropout", cfg.model.dropout, "dropout")->check(CLI::Range(0.0, 0.9));
  app.add_flag("--tie-weights", cfg.model.tie_weights, "share the token embedding with the output layer");
  app.add_option("--lr", cfg.train.lr,
                 fmt::format("AdamW peak learning rate (cosine decay to lr/10); with --compare and no --lr: {:g}, a "
                             "high one",
                             kCompareLr))
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", cfg.train.warmup, "linear warmup steps (--compare with 0: steps/4)")
      ->check(CLI::Range(0, 10000000));
  app.add_option("--weight-decay", cfg.train.weight_decay, "AdamW weight decay")->check(CLI::NonNegativeNumber);
  app.add_flag("--init-gradients", cfg.init_gradients,
               "train nothing: the gradient norm of each block's last FFN weight at initialization, Post-LN and "
               "Pre-LN, for each of --depths (Xiong et al. 2020), on --batch-size x --seq-len batches");
  app.add_option("--depths", cfg.probe.depths, "--init-gradients: the depths")
      ->check(CLI::Range(1, 64))
      ->delimiter(',');
  app.add_option("--seeds", cfg.probe.seeds, "--init-gradients: models per depth")->check(CLI::Range(1, 100));
  app.add_option("--probe-batches", cfg.probe.batches, "--init-gradients: batches averaged per model")
      ->check(CLI::Range(1, 1000));
  examples::add_run_options(app, cfg, "threads");
  if (std::optional<int> exit_code = examples::parse_command_line(app, argc, argv)) return exit_code;
  cfg.probe.batch_size = cfg.train.batch_size;
  cfg.probe.seq_len = cfg.train.seq_len;
  cfg.probe.seed = cfg.train.seed;
  if (cfg.compare) {
    // warmup 0 and this many; steps/10 was too short for Post-LN at 1e-2 (80 of 800 steps: stuck in 2 of 2 seeds)
    if (cfg.train.warmup == 0) cfg.train.warmup = std::max<int64_t>(1, cfg.train.steps / 4);
    if (app.count("--lr") == 0) cfg.train.lr = kCompareLr;
  }
  // what a --resume must share with the checkpoint besides the training options (lm_checkpoints.h)
  cfg.train.checkpoint.identity = {{"norm", cfg.norm},
                                   {"layers", std::to_string(cfg.model.num_layers)},
                                   {"d_model", std::to_string(cfg.model.d_model)},
                                   {"heads", std::to_string(cfg.model.num_heads)},
                                   {"ff", std::to_string(cfg.model.dim_feedforward)},
                                   {"dropout", nl::train::exact_text(cfg.model.dropout)},
                                   {"tie_weights", cfg.model.tie_weights ? "true" : "false"}};
  return std::nullopt;
}

// --compare: post, pre and none, each without warmup and with --warmup steps; else the one asked for.
std::vector<Setup> plan(const Config& cfg) {
  if (!cfg.compare) return {{cfg.norm, cfg.train.warmup}};
  std::vector<Setup> setups;
  for (const char* norm : {"post", "pre", "none"})
    for (int64_t warmup : {int64_t(0), cfg.train.warmup}) setups.push_back({norm, warmup});
  return setups;
}

// Trains every run of the plan, each from the same seed.
Results run(const Config& cfg) {
  nl::data::TextCorpus corpus = examples::load_corpus(cfg.corpus);
  Results results{.unigram_bpc = examples::unigram_bits_per_char(corpus), .setups = plan(cfg)};
  fmt::print(stderr, "corpus: {} characters, vocabulary {}; unigram entropy {:.3f} bits/char\n", corpus.text().size(),
             corpus.vocab_size(), results.unigram_bpc);
  for (const Setup& setup : results.setups) {
    nl::manual_seed(cfg.train.seed);
    nl::models::GPTConfig model_config = cfg.model;
    model_config.vocab_size = corpus.vocab_size();
    model_config.block_size = cfg.train.seq_len;
    model_config.norm = nl::models::parse_norm_placement(setup.norm);
    nl::models::GPT model(model_config);
    examples::LMTrainConfig train = cfg.train;
    train.warmup = setup.warmup;
    results.runs.push_back(
        examples::train_language_model(examples::language_model(model), corpus, train, setup.label()));
  }
  return results;
}

// The final JSON line and results.json: the configuration and every run
// (with one run, its results at the top level too).
nlohmann::json to_json(const Config& cfg, const Results& results) {
  nlohmann::json runs = nlohmann::json::array();
  for (size_t i = 0; i < results.runs.size(); ++i) {
    nlohmann::json j = results.runs[i].to_json();
    j["label"] = results.runs[i].label;
    j["norm"] = results.setups[i].norm;
    j["warmup"] = results.setups[i].warmup;
    j["parameters"] = results.runs[i].parameters;
    runs.push_back(j);
  }
  nlohmann::json summary = {{"program", "transformer_norm"},        {"steps", cfg.train.steps},
                            {"batch_size", cfg.train.batch_size},   {"seq_len", cfg.train.seq_len},
                            {"d_model", cfg.model.d_model},         {"heads", cfg.model.num_heads},
                            {"layers", cfg.model.num_layers},       {"lr", cfg.train.lr},
                            {"warmup", cfg.train.warmup},           {"seed", cfg.train.seed},
                            {"temperature", cfg.train.temperature}, {"top_k", cfg.train.top_k},
                            {"unigram_bpc", results.unigram_bpc},   {"runs", runs}};
  if (!cfg.compare) summary.update(runs[0]);
  return summary;
}

// Writes the CSVs, the plot and results.json; prints the table, the samples and the JSON line.
void report(const Config& cfg, const Results& results) {
  examples::write_lm_csvs(cfg.out, "run", results.runs, /*distributed=*/false);
  bool plotted = nl::train::gnuplot::render(
      cfg.out + "/val_loss.gp", nl::train::gnuplot::lines_by_label(cfg.out + "/eval.csv", cfg.out + "/val_loss.png",
                                                                   examples::labels_with_curve(results.runs), "step",
                                                                   "validation loss (nats/char)", {{4, ""}}));

  fmt::print("\n{:<15} {:>10} {:>10} {:>13} {:>8}\n", "run", "train_loss", "val_loss", "val_bits/char", "seconds");
  for (const examples::LMTrainResult& run : results.runs)
    fmt::print("{:<15} {:>10} {:>10} {:>13} {:>8.1f}{}\n", run.label, examples::fmt_number(run.final_train_loss(), 4),
               examples::fmt_number(run.final_val_loss(), 4),
               examples::fmt_number(run.final_val_loss() / std::numbers::ln2, 3), run.seconds,
               run.diverged ? fmt::format("  diverged at step {}", run.diverged_at) : "");
  examples::print_unigram_entropy(results.unigram_bpc);
  for (const examples::LMTrainResult& run : results.runs)
    if (!run.diverged) examples::print_sample(run, cfg.train);
  fmt::print("\nwrote {}/steps.csv, eval.csv{}\n", cfg.out, plotted ? ", val_loss.png" : "");

  examples::write_and_print_json(cfg.out + "/results.json", to_json(cfg, results));
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  if (std::optional<int> exit_code = parse_options(argc, argv, cfg)) return *exit_code;
  nl::set_num_threads(int(cfg.threads));
  return examples::run_or_report_error(cfg.detect_anomaly, [&] {
    if (!cfg.init_gradients) return report(cfg, run(cfg));
    nl::data::TextCorpus corpus = examples::load_corpus(cfg.corpus);
    examples::write_and_print_json(
        cfg.out + "/results.json",
        transformer_norm::report_init_gradients(cfg.out, measure_init_gradients(cfg.model, corpus, cfg.probe)));
  });
}

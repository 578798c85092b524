// train_char_lstm: a character-level LSTM language model on a text corpus
// (Debian's fortunes by default), trained with each LSTM cell in turn —
// plain, layer-normalized (Ba et al. 2016), batch-normalized (Cooijmans et
// al. 2016) — from the same seed and batches. Reports validation loss in bits
// per character, writes the loss curves (CSV, JSON, PNG) and prints a sample
// from each model.
//
//   build/bin/train_char_lstm                          # all three cells
//   build/bin/train_char_lstm --cell layer_norm --steps 3000 --hidden 512
#include <CLI/CLI.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

#include "examples/common/report.h"
#include "normlab.h"

namespace {

using nl::Tensor;
namespace layers = nl::layers;

struct Config {
  std::string cell = "all";
  std::vector<std::string> corpus;
  int64_t steps = 1500, batch = 32, length = 64, embed = 32, hidden = 256, num_layers = 1;
  int64_t eval_every = 100, eval_batches = 8, sample_length = 240, threads = 2;
  double lr = 3e-3, clip = 1.0, temperature = 0.7;
  uint64_t seed = 0;
  std::string out = "results/train_char_lstm";
};

layers::LSTMCell parse_cell(const std::string& s) {
  if (s == "plain") return layers::LSTMCell::plain;
  if (s == "layer_norm") return layers::LSTMCell::layer_norm;
  return layers::LSTMCell::batch_norm;
}

// Mean cross-entropy over eval_batches fixed validation windows, in nats.
double evaluate(nl::models::CharLSTM& model, const nl::data::TextCorpus& corpus, const Config& cfg) {
  nl::NoGradGuard no_grad;
  model.eval();
  // the same windows every time: draw them from a generator state we restore
  nl::Generator saved = nl::default_generator();
  nl::default_generator().manual_seed(12345);
  double total = 0;
  for (int64_t b = 0; b < cfg.eval_batches; ++b) {
    auto [x, y] = corpus.batch(corpus.validation(), cfg.batch, cfg.length);
    Tensor logits = model(x);
    total += nl::cross_entropy(logits.reshape({-1, corpus.vocab_size()}), y.reshape({-1})).item<double>();
  }
  nl::default_generator() = saved;
  model.train();
  return total / double(cfg.eval_batches);
}

nlohmann::json train(const Config& cfg, const std::string& cell_name, const nl::data::TextCorpus& corpus,
                     std::vector<std::string>& csv_rows) {
  nl::manual_seed(cfg.seed);
  nl::models::CharLSTM model(corpus.vocab_size(), cfg.embed, cfg.hidden, cfg.num_layers, parse_cell(cell_name));
  nl::optim::Adam opt(model.parameters(), {.lr = cfg.lr});
  nl::optim::CosineAnnealingLR schedule(opt, cfg.steps, cfg.lr / 10);
  examples::Progress progress(cell_name, cfg.steps);
  double train_loss = 0, last_val = 0;
  int64_t window = 0;
  for (int64_t step = 1; step <= cfg.steps; ++step) {
    auto [x, y] = corpus.batch(corpus.train(), cfg.batch, cfg.length);
    opt.zero_grad();
    Tensor loss = nl::cross_entropy(model(x).reshape({-1, corpus.vocab_size()}), y.reshape({-1}));
    loss.backward();
    nl::optim::clip_grad_norm_(model.parameters(), cfg.clip);
    opt.step();
    schedule.step();
    train_loss += loss.item<double>();
    ++window;
    if (step % cfg.eval_every == 0 || step == cfg.steps) {
      last_val = evaluate(model, corpus, cfg);
      csv_rows.push_back(fmt::format("{},{},{:.5f},{:.5f}", cell_name, step, train_loss / double(window), last_val));
      progress.update(step, last_val);
      if (step != cfg.steps) train_loss = 0, window = 0;
    }
  }
  progress.finish();
  double seconds = progress.elapsed();
  std::string prompt = "The ";
  std::string sample = corpus.decode(model.generate(corpus.encode(prompt), cfg.sample_length, cfg.temperature));
  return {{"cell", cell_name},
          {"steps", cfg.steps},
          {"batch", cfg.batch},
          {"length", cfg.length},
          {"hidden", cfg.hidden},
          {"layers", cfg.num_layers},
          {"lr", cfg.lr},
          {"seed", cfg.seed},
          {"train_loss", train_loss / double(std::max<int64_t>(window, 1))},
          {"val_loss", last_val},
          {"val_bits_per_char", last_val / std::numbers::ln2},
          {"seconds", seconds},
          {"sample", sample}};
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (const char* name : {"fortunes", "wisdom", "literature", "people", "humorists", "computers"})
    cfg.corpus.push_back(std::string("/usr/share/games/fortunes/") + name);
  CLI::App app{"Train a character-level LSTM with plain, layer-normalized and batch-normalized cells"};
  app.add_option("--cell", cfg.cell, "plain, layer_norm, batch_norm or all")
      ->check(CLI::IsMember({"plain", "layer_norm", "batch_norm", "all"}));
  app.add_option("--corpus", cfg.corpus, "text files (default: Debian's fortunes)");
  app.add_option("--steps", cfg.steps, "training steps")->check(CLI::Range(1, 10000000));
  app.add_option("--batch", cfg.batch, "sequences per step")->check(CLI::Range(2, 4096));
  app.add_option("--length", cfg.length, "characters per sequence")->check(CLI::Range(1, 4096));
  app.add_option("--embed", cfg.embed, "embedding size")->check(CLI::Range(1, 4096));
  app.add_option("--hidden", cfg.hidden, "LSTM hidden size")->check(CLI::Range(1, 8192));
  app.add_option("--layers", cfg.num_layers, "LSTM layers")->check(CLI::Range(1, 16));
  app.add_option("--lr", cfg.lr, "Adam learning rate (cosine-annealed to lr/10)")->check(CLI::PositiveNumber);
  app.add_option("--clip", cfg.clip, "gradient-norm clip")->check(CLI::PositiveNumber);
  app.add_option("--eval-every", cfg.eval_every, "steps between validation evaluations")->check(CLI::Range(1, 10000000));
  app.add_option("--sample-length", cfg.sample_length, "characters to generate")->check(CLI::Range(0, 100000));
  app.add_option("--temperature", cfg.temperature, "sampling temperature")->check(CLI::Range(0.0, 10.0));
  app.add_option("--seed", cfg.seed, "random seed");
  app.add_option("--threads", cfg.threads, "threads")->check(CLI::Range(1, 256));
  app.add_option("--out", cfg.out, "directory for CSV, JSON and PNG");
  CLI11_PARSE(app, argc, argv);
  nl::set_num_threads(int(cfg.threads));

  try {
    auto corpus = nl::data::TextCorpus::from_files(cfg.corpus);
    fmt::print(stderr, "corpus: {} characters, vocabulary {}, {} for training\n", corpus.text().size(),
               corpus.vocab_size(), corpus.train().numel());
    std::vector<nlohmann::json> results;
    std::vector<std::string> rows;
    for (std::string cell : {"plain", "layer_norm", "batch_norm"})
      if (cfg.cell == "all" || cfg.cell == cell) results.push_back(train(cfg, cell, corpus, rows));

    examples::ensure_dir(cfg.out);
    examples::write_csv(cfg.out + "/curves.csv", "cell,step,train_loss,val_loss", rows);
    std::ofstream(cfg.out + "/results.json") << nlohmann::json(results).dump(2) << '\n';
    std::string plot = "set terminal pngcairo size 800,500\nset output '" + cfg.out + "/curves.png'\n" +
                       "set datafile separator ','\nset xlabel 'step'\nset ylabel 'validation loss (nats/char)'\n"
                       "set key top right\nplot ";
    for (size_t i = 0; i < results.size(); ++i) {
      std::string cell = results[i]["cell"];
      plot += fmt::format("{}'< grep ^{}, {}/curves.csv' using 2:4 with lines lw 2 title '{}'", i ? ", " : "", cell,
                          cfg.out, cell);
    }
    examples::run_gnuplot(cfg.out + "/curves.gp", plot + "\n");

    fmt::print("\n{:<11} {:>10} {:>9} {:>13} {:>8}\n", "cell", "train_loss", "val_loss", "val_bits/char", "seconds");
    for (auto& r : results)
      fmt::print("{:<11} {:>10.4f} {:>9.4f} {:>13.3f} {:>8.1f}\n", r["cell"].get<std::string>(),
                 r["train_loss"].get<double>(), r["val_loss"].get<double>(), r["val_bits_per_char"].get<double>(),
                 r["seconds"].get<double>());
    for (auto& r : results) fmt::print("\n--- sample ({}, temperature {}) ---\n{}\n", r["cell"].get<std::string>(), cfg.temperature, r["sample"].get<std::string>());
    fmt::print("\nwrote {}/curves.csv, results.json, curves.png\n", cfg.out);
  } catch (const nl::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}

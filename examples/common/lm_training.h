#pragma once
// The training loop shared by the character language-model examples (char_lm
// with LSTM cells, transformer_norm with GPTs): random windows from the
// corpus, Adam/AdamW with linear warmup and cosine decay, gradient clipping,
// a validation curve in bits per character on fixed windows, divergence
// detection (a non-finite loss ends the run and marks it diverged), a sample
// at the end, and with --checkpoint-dir checkpoints to resume from, exactly
// (lm_checkpoints.h).
//
// distributed (under `mpirun -np N`, an nl::dist::Context alive): every rank
// trains the same model (DataParallel: rank 0's weights) on batch_size windows
// of its own per step — rank 0 draws them from the global generator as a
// single process would, rank r > 0 from a generator reseeded from (seed, r) —
// so a step sees N × batch_size windows. The loss is the mean over the ranks
// (all stop together when it is not finite); gradients are averaged before
// clipping, so every rank clips and steps alike. Evaluation runs on every rank
// on the same fixed windows with the same weights (and rank 0's running
// statistics, broadcast first: a BN-LSTM's per-step statistics are per rank,
// not synchronized) and gives the same numbers everywhere. Only rank 0 shows
// progress and samples, and writes the checkpoints, which hold every rank's
// generator (lm_checkpoints.h).
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <numbers>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "examples/common/distributed.h"
#include "examples/common/lm_checkpoints.h"
#include "examples/common/step_log.h"
#include "normlab.h"

namespace examples {

struct LMTrainConfig {
  int64_t steps = 1000, batch_size = 32, seq_len = 64;
  int64_t eval_seq_len = 0;  // > 0: also evaluate on windows this long (LSTMs only)
  int64_t eval_every = 100, eval_batches = 8;
  std::string optimizer = "adam";  // or "adamw"
  double lr = 3e-3, weight_decay = 0.0, clip = 1.0;
  int64_t warmup = 0;  // linear warmup steps, then cosine decay to lr/10
  uint64_t seed = 0;
  int64_t sample_length = 200;
  double temperature = 0.7;
  int64_t top_k = 0;  // sample from the k likeliest characters only (0: all)
  std::string prompt = "The ";
  bool distributed = false;    // data-parallel over the ranks of the MPI job (above)
  LMCheckpointing checkpoint;  // --checkpoint-dir and --resume (lm_checkpoints.h)
};

struct LMEvalPoint {
  int64_t step;
  double train_loss;     // mean of the steps since the last evaluation (nats)
  double val_loss;       // nats per character, windows of seq_len
  double val_loss_long;  // windows of eval_seq_len (NaN when not asked for)
  double seconds;        // wall time spent in training steps so far (evaluations not counted)
  double cpu_seconds;    // CPU time of the process in training steps so far (all threads)
};

struct LMTrainResult {
  std::string label;                // the run's name: in the progress line, the CSV rows, the report
  int64_t parameters = 0;           // of the model trained
  std::vector<double> step_losses;  // every step's training loss (nats)
  std::vector<LMEvalPoint> curve;
  bool long_eval = false;  // the curve has val_loss_long (eval_seq_len > 0)
  bool diverged = false;
  int64_t diverged_at = 0;  // the step whose loss was not finite
  double seconds = 0;
  std::string sample;
  // The CSV rows, each starting with the label: steps.csv "label,step,loss,lr"
  // (distributed: and the step's time and communication, StepLog), eval.csv
  // "label,step,train_loss,val_loss,val_bpc,val_bpc_long,seconds,cpu_seconds"
  // (seconds: wall and CPU time in the training steps so far, evaluations
  // excluded, to compare curves at equal compute).
  std::vector<std::string> step_rows, eval_rows;
  // distributed only: the training steps' time and communication; whether all
  // ranks ended with identical parameters and the same last evaluation
  std::optional<StepSummary> distributed;
  bool params_in_sync = true, eval_in_sync = true;

  // mean training loss over the last 10% of the steps run
  double final_train_loss() const {
    if (step_losses.empty()) return NAN;
    size_t tail = std::max<size_t>(1, step_losses.size() / 10);
    double sum = 0;
    for (size_t i = step_losses.size() - tail; i < step_losses.size(); ++i) sum += step_losses[i];
    return sum / double(tail);
  }
  // The last validation loss (nats per character) at seq_len and eval_seq_len;
  // NaN for a diverged run (the last finite one would flatter it).
  double final_val_loss() const { return curve.empty() || diverged ? NAN : curve.back().val_loss; }
  double final_val_loss_long() const { return curve.empty() || diverged ? NAN : curve.back().val_loss_long; }
  nlohmann::json to_json() const;  // results (not the config)
};

// A model whose forward maps ids (N, T) to logits (N, T, V), and how it samples.
struct LanguageModel {
  nl::layers::Module& module;
  std::function<std::vector<int64_t>(const std::vector<int64_t>& prompt, int64_t n, double temperature, int64_t top_k)>
      generate;
};

// A LanguageModel of a model with generate(prompt, n, temperature, top_k) (CharLSTM, GPT).
template <typename Model>
LanguageModel language_model(Model& model) {
  return {model, [&model](const std::vector<int64_t>& prompt, int64_t n, double temperature, int64_t top_k) {
            return model.generate(prompt, n, temperature, top_k);
          }};
}

// The corpus from a file or directory of text (fortune files lose their %
// separator lines); with no path, Debian's fortunes.
inline nl::data::TextCorpus load_corpus(const std::string& path) {
  return path.empty() ? nl::data::TextCorpus::default_fortunes() : nl::data::TextCorpus::from_path(path);
}

// Entropy of the training text's character frequencies, in bits: what a model
// that learned only how often each character occurs would score.
inline double unigram_bits_per_char(const nl::data::TextCorpus& corpus) {
  std::vector<double> counts(size_t(corpus.vocab_size()), 0.0);
  const nl::Tensor& train = corpus.train();
  const int64_t* ids = train.data<int64_t>();
  for (int64_t i = 0; i < train.numel(); ++i) counts[size_t(ids[i])] += 1;
  double bits = 0, n = double(train.numel());
  for (double c : counts)
    if (c > 0) bits -= c / n * std::log2(c / n);
  return bits;
}

// Distributed: also the communication per step and in total and whether the
// ranks agree. Bits per character at eval_seq_len only when asked for.
inline nlohmann::json LMTrainResult::to_json() const {
  auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json j;
  j["diverged"] = diverged;
  if (diverged) j["diverged_at_step"] = diverged_at;
  j["train_loss"] = finite_or_null(final_train_loss());
  j["val_loss"] = finite_or_null(final_val_loss());
  j["val_bpc"] = finite_or_null(final_val_loss() / std::numbers::ln2);
  if (long_eval) j["val_bpc_long"] = finite_or_null(final_val_loss_long() / std::numbers::ln2);
  j["seconds"] = seconds;
  if (!curve.empty()) {  // time in the training steps up to the last evaluation, evaluations excluded
    j["train_seconds"] = curve.back().seconds;
    j["train_cpu_seconds"] = curve.back().cpu_seconds;
  }
  j["sample"] = sample;
  if (distributed) {
    j.update(distributed->to_json());
    j["params_in_sync"] = params_in_sync;
    j["eval_in_sync"] = eval_in_sync;
  }
  return j;
}

// The prompt as ids; when it holds characters the corpus lacks, the first
// characters of the validation text instead.
inline std::vector<int64_t> prompt_ids(const nl::data::TextCorpus& corpus, const std::string& prompt) {
  for (unsigned char c : prompt)
    if (corpus.text().find(char(c)) == std::string::npos) {
      const nl::Tensor& v = corpus.validation();
      const int64_t* ids = v.data<int64_t>();
      return std::vector<int64_t>(ids, ids + std::min<int64_t>(int64_t(prompt.size()), v.numel()));
    }
  return corpus.encode(prompt);
}

namespace detail {

// Distributed: the same model on every rank (rank 0's weights), and different
// windows on every rank: rank 0 keeps the single-process stream (so a world of
// one is the single-process run), rank r > 0 reseeds the global generator with
// a seed mixed from (seed ^ "windows", r). Otherwise nothing.
inline std::optional<nl::dist::DataParallel> replicate(nl::layers::Module& model, const LMTrainConfig& cfg) {
  std::optional<nl::dist::DataParallel> ddp;
  if (!cfg.distributed) return ddp;
  ddp.emplace(model);
  if (int rank = nl::dist::rank(); rank > 0)
    nl::manual_seed(nl::Generator(cfg.seed ^ 0x77696e646f7773ULL).bits(uint64_t(rank)));
  return ddp;
}

inline std::unique_ptr<nl::optim::Optimizer> make_optimizer(nl::layers::Module& model, const LMTrainConfig& cfg) {
  if (cfg.optimizer == "adamw")
    return std::make_unique<nl::optim::AdamW>(model.parameters(),
                                              nl::optim::AdamWOptions{.lr = cfg.lr, .weight_decay = cfg.weight_decay});
  return std::make_unique<nl::optim::Adam>(model.parameters(),
                                           nl::optim::AdamOptions{.lr = cfg.lr, .weight_decay = cfg.weight_decay});
}

// Mean cross-entropy (nats) over cfg.eval_batches validation windows of length
// `length`, the same windows every call (drawn from a fixed seed).
inline double evaluate_lm(nl::layers::Module& model, const nl::data::TextCorpus& corpus, const LMTrainConfig& cfg,
                          int64_t length) {
  nl::NoGradGuard no_grad;
  bool was_training = model.is_training();
  model.eval();
  nl::Generator saved = nl::default_generator();
  nl::default_generator().manual_seed(12345);
  double total = 0;
  for (int64_t b = 0; b < cfg.eval_batches; ++b) {
    auto [x, y] = corpus.batch(corpus.validation(), cfg.batch_size, length);
    total += nl::cross_entropy(model(x).reshape({-1, corpus.vocab_size()}), y.reshape({-1})).item<double>();
  }
  nl::default_generator() = saved;
  model.train(was_training);
  return total / double(cfg.eval_batches);
}

// The validation losses at seq_len and at eval_seq_len (NaN when not asked for).
inline std::pair<double, double> validation_losses(nl::layers::Module& model, const nl::data::TextCorpus& corpus,
                                                   const LMTrainConfig& cfg) {
  double at_seq_len = evaluate_lm(model, corpus, cfg, cfg.seq_len);
  double at_eval_seq_len = cfg.eval_seq_len > 0 ? evaluate_lm(model, corpus, cfg, cfg.eval_seq_len) : NAN;
  return {at_seq_len, at_eval_seq_len};
}

// The observer of one run of the loop below, called at each step's begin and
// end and for each evaluation. It keeps what the run records: the CSV rows
// (StepLog: with each step's time and communication under --distributed), the
// losses, the validation curve with the training time so far (a
// TrainingClock, paused while evaluating), and rank 0's progress line.
class LMRunLog {
 public:
  LMRunLog(const std::string& label, const LMTrainConfig& cfg)
      : cfg_(cfg), steps_(cfg.distributed), progress_(label, cfg.steps) {
    result_.label = label;
    result_.long_eval = cfg.eval_seq_len > 0;
  }

  // Whether the loop evaluates after `step`: every eval_every steps and after the last.
  bool evaluates(int64_t step) const { return step % cfg_.eval_every == 0 || step == cfg_.steps; }
  bool diverged() const { return result_.diverged; }

  void step_begin() { steps_.begin(); }
  // The step's loss (the mean over the ranks) and the learning rate it ran
  // with. A loss that is not finite ends the run: it has diverged.
  void step_end(int64_t step, double loss, double lr) {
    steps_.end(fmt::format("{},{},{:.5f},{:.6g}", result_.label, step, loss, lr));
    last_loss_ = loss;
    if (!std::isfinite(loss)) {
      result_.diverged = true;
      result_.diverged_at = step;
      show(step);
      return;
    }
    result_.step_losses.push_back(loss);
    window_sum_ += loss;
    ++window_;
    if (step % 10 == 0 && !evaluates(step)) show(step);  // after an evaluation, evaluation() shows it
  }

  // Records the validation losses `validate()` returns ({seq_len, eval_seq_len}),
  // with the training clock paused: evaluations are not training time.
  void evaluation(int64_t step, const std::function<std::pair<double, double>()>& validate) {
    clock_.pause();
    auto [val_loss, val_loss_long] = validate();
    LMEvalPoint point{step,          window_sum_ / double(window_), val_loss,
                      val_loss_long, clock_.wall_seconds(),         clock_.cpu_seconds()};
    result_.curve.push_back(point);
    result_.eval_rows.push_back(fmt::format("{},{},{:.5f},{:.5f},{:.5f},{},{:.3f},{:.3f}", result_.label, step,
                                            point.train_loss, point.val_loss, point.val_loss / std::numbers::ln2,
                                            std::isnan(point.val_loss_long)
                                                ? std::string()
                                                : fmt::format("{:.5f}", point.val_loss_long / std::numbers::ln2),
                                            point.seconds, point.cpu_seconds));
    clock_.resume();
    show(step);  // the progress line always shows the training loss
    window_sum_ = 0;
    window_ = 0;
  }

  // What the run has recorded so far, for a checkpoint, handed to write()
  // with the training clock paused (writing is not training time either).
  // Doubles round-trip through JSON exactly; NaN is stored as null.
  void checkpoint(const std::function<void(const nlohmann::json&)>& write) {
    clock_.pause();
    nlohmann::json curve = nlohmann::json::array();
    for (const LMEvalPoint& p : result_.curve)
      curve.push_back({p.step, p.train_loss, p.val_loss,
                       std::isnan(p.val_loss_long) ? nlohmann::json(nullptr) : nlohmann::json(p.val_loss_long),
                       p.seconds, p.cpu_seconds});
    write({{"step_losses", result_.step_losses},
           {"curve", curve},
           {"step_rows", steps_.rows()},
           {"eval_rows", result_.eval_rows},
           {"last_loss", last_loss_},
           {"window_sum", window_sum_},
           {"window", window_},
           {"seconds", clock_.wall_seconds()},
           {"cpu_seconds", clock_.cpu_seconds()},
           {"elapsed", prior_elapsed_ + progress_.elapsed()}});
    clock_.resume();
  }
  // A resumed run: back to what checkpoint() wrote after `step`.
  void restore(const nlohmann::json& state, int64_t step) {
    result_.step_losses = state.at("step_losses").get<std::vector<double>>();
    result_.curve.clear();
    for (const nlohmann::json& p : state.at("curve"))
      result_.curve.push_back({p[0].get<int64_t>(), p[1].get<double>(), p[2].get<double>(),
                               p[3].is_null() ? NAN : p[3].get<double>(), p[4].get<double>(), p[5].get<double>()});
    steps_.restore_rows(state.at("step_rows").get<std::vector<std::string>>());
    result_.eval_rows = state.at("eval_rows").get<std::vector<std::string>>();
    last_loss_ = state.at("last_loss").get<double>();
    window_sum_ = state.at("window_sum").get<double>();
    window_ = state.at("window").get<int64_t>();
    clock_ = nl::train::TrainingClock(state.at("seconds").get<double>(), state.at("cpu_seconds").get<double>());
    prior_elapsed_ = state.at("elapsed").get<double>();
    progress_.resumed_at(step);
  }

  // This rank's StepLog totals (--distributed: a checkpoint keeps each
  // rank's, lm_checkpoints.h), and a resumed run's restored.
  const nl::dist::StepReport& step_total() const { return steps_.total(); }
  void restore_step_total(const nl::dist::StepReport& total) { steps_.restore_total(total); }

  // Ends the progress line and hands over what was recorded. Distributed: a
  // collective (the steps are summarized over the ranks).
  LMTrainResult finish() {
    if (prints_) progress_.finish();
    result_.seconds = prior_elapsed_ + progress_.elapsed();  // resumed: with the time before the checkpoint
    result_.step_rows = steps_.rows();
    if (cfg_.distributed) result_.distributed = summarize_steps(steps_.total());
    return std::move(result_);
  }

 private:
  void show(int64_t step) {
    if (prints_) progress_.update(step, last_loss_);
  }

  const LMTrainConfig& cfg_;
  LMTrainResult result_;
  StepLog steps_;
  nl::train::Progress progress_;
  nl::train::TrainingClock clock_;
  bool prints_ = nl::dist::is_main();  // rank 0 shows progress
  double last_loss_ = NAN, window_sum_ = 0;
  double prior_elapsed_ = 0;  // resumed: the run's wall time before the checkpoint
  int64_t window_ = 0;        // steps since the last evaluation
};

}  // namespace detail

// Trains model from its current parameters; `label` names the run.
inline LMTrainResult train_language_model(LanguageModel model, const nl::data::TextCorpus& corpus,
                                          const LMTrainConfig& cfg, const std::string& label) {
  nl::layers::Module& m = model.module;
  std::optional<nl::dist::DataParallel> ddp = detail::replicate(m, cfg);
  std::unique_ptr<nl::optim::Optimizer> opt = detail::make_optimizer(m, cfg);
  nl::optim::WarmupDecayLR schedule(*opt, cfg.warmup, cfg.steps, nl::optim::WarmupDecayLR::Decay::cosine, 0.1);

  detail::LMRunLog log(label, cfg);
  detail::LMCheckpoints checkpoints(cfg, corpus, label);
  for (int64_t step = checkpoints.start(m, *opt, schedule, log) + 1; step <= cfg.steps; ++step) {
    auto [x, y] = corpus.batch(corpus.train(), cfg.batch_size, cfg.seq_len);
    double lr = schedule.get_last_lr()[0];
    log.step_begin();
    opt->zero_grad();
    nl::Tensor loss = nl::cross_entropy(m(x).reshape({-1, corpus.vocab_size()}), y.reshape({-1}));
    double value = nl::dist::allreduce_mean(loss.item<double>());  // the same on every rank: all stop together
    if (std::isfinite(value)) {
      loss.backward();
      if (ddp) ddp->average_gradients();  // before clipping: every rank clips the same gradient
      if (cfg.clip > 0) nl::optim::clip_grad_norm_(m.parameters(), cfg.clip);
      opt->step();
      schedule.step();
    }
    log.step_end(step, value, lr);
    if (log.diverged()) break;  // a diverged run is a result, not a crash
    if (log.evaluates(step))
      log.evaluation(step, [&] {
        if (ddp) ddp->broadcast_buffers();  // rank 0's running statistics (BN-LSTM) on every rank
        return detail::validation_losses(m, corpus, cfg);
      });
    checkpoints.after_step(step, m, *opt, schedule, log);  // when due or interrupted (then it ends the run)
  }

  LMTrainResult result = log.finish();
  result.parameters = m.num_parameters();
  if (ddp) {
    result.params_in_sync = ddp->parameters_in_sync();
    double last_eval = result.curve.empty() ? 0.0 : result.curve.back().val_loss;
    result.eval_in_sync = nl::dist::same_on_all_ranks(std::bit_cast<uint64_t>(last_eval));
  }
  if (!result.diverged && cfg.sample_length > 0 && nl::dist::is_main())
    result.sample =
        corpus.decode(model.generate(prompt_ids(corpus, cfg.prompt), cfg.sample_length, cfg.temperature, cfg.top_k));
  return result;
}

}  // namespace examples

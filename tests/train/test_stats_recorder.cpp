// StatsRecorder: every statistic (the makemore ones and the histograms too)
// equals the hand-computed value on a tiny model trained one SGD step; skipping steps, evaluation passes, CSV and plot;
// attached with one line to a GPT and a CharLSTM, its rows equal the
// statistics of each layer's output and output gradient computed directly.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "normlab.h"

namespace layers = nl::layers;

namespace {
// 0: Linear(2, 3)   1: Tanh   2: Linear(3, 1), float64, fixed weights
struct TinyModel {
  layers::Sequential model{std::make_shared<layers::Linear>(2, 3, true, nl::f64), std::make_shared<layers::Tanh>(),
                           std::make_shared<layers::Linear>(3, 1, true, nl::f64)};
  layers::Linear& lin1 = static_cast<layers::Linear&>(*model[0]);
  layers::Linear& lin2 = static_cast<layers::Linear&>(*model[2]);
  TinyModel() {
    nl::NoGradGuard no_grad;
    lin1.weight.copy_(nl::from_vector<double>({0.5, -1, 2, 0.25, -0.75, 1.5}, {3, 2}));
    lin1.bias.copy_(nl::from_vector<double>({0.1, -0.2, 0.3}));
    lin2.weight.copy_(nl::from_vector<double>({1.5, -2, 0.5}, {1, 3}));
    lin2.bias.copy_(nl::from_vector<double>({0.25}));
  }
};

const std::vector<double> kX{1, 2, -1, 0.5, 0, -2, 3, 1};  // 4 samples × 2 features

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}
std::vector<double> concat(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
}  // namespace

TEST_CASE("StatsRecorder: every column equals the hand-computed value after one SGD step", "[train][stats]") {
  TinyModel tiny;
  nl::train::StatsRecorder stats(tiny.model);
  CHECK(stats.layer_names() == std::vector<std::string>{"0", "1", "2"});
  nl::optim::SGD sgd(tiny.model.parameters(), {.lr = 0.1});

  // by hand, before the step: h = x·W1ᵀ + b1, a = tanh(h), out = a·W2ᵀ + b2, loss = Σ out
  std::vector<double> W1 = tiny.lin1.weight.to_vector<double>(), b1 = tiny.lin1.bias.to_vector<double>();
  std::vector<double> W2 = tiny.lin2.weight.to_vector<double>(), b2 = tiny.lin2.bias.to_vector<double>();
  std::vector<double> h(12), a(12), dh(12), sum_a(3, 0.0);
  for (int n = 0; n < 4; ++n)
    for (int j = 0; j < 3; ++j) {
      int i = n * 3 + j;
      h[i] = kX[n * 2] * W1[j * 2] + kX[n * 2 + 1] * W1[j * 2 + 1] + b1[j];
      a[i] = std::tanh(h[i]);
      dh[i] = W2[j] * (1 - a[i] * a[i]);  // ∂loss/∂h = W2 ⊙ tanh'(h)
      sum_a[j] += a[i];
    }
  auto mean_std = [](const std::vector<double>& v) {
    double m = 0, s = 0;
    for (double x : v) m += x / double(v.size());
    for (double x : v) s += (x - m) * (x - m) / double(v.size());
    return std::pair{m, std::sqrt(s)};
  };
  std::vector<double> out(4);
  for (int n = 0; n < 4; ++n) out[n] = a[n * 3] * W2[0] + a[n * 3 + 1] * W2[1] + a[n * 3 + 2] * W2[2] + b2[0];
  // parameter gradients: dW2 = Σ_n a_n, db2 = 4; dW1[j] = Σ_n dh[n,j]·x_n, db1[j] = Σ_n dh[n,j]
  std::vector<double> grad2 = concat(sum_a, {4.0}), dW1(6, 0.0), db1(3, 0.0);
  for (int n = 0; n < 4; ++n)
    for (int j = 0; j < 3; ++j) {
      dW1[j * 2] += dh[n * 3 + j] * kX[n * 2];
      dW1[j * 2 + 1] += dh[n * 3 + j] * kX[n * 2 + 1];
      db1[j] += dh[n * 3 + j];
    }
  std::vector<double> grad1 = concat(dW1, db1), theta1 = concat(W1, b1), theta2 = concat(W2, b2);

  nl::Tensor loss = tiny.model(nl::from_vector(kX, {4, 2})).sum();
  sgd.zero_grad();
  loss.backward();
  sgd.step();
  stats.step();

  auto rows = stats.rows_at(1);
  REQUIRE(rows.size() == 3);
  const auto &r0 = rows[0], &r1 = rows[1], &r2 = rows[2];
  CHECK(r0.layer == "0");
  CHECK(r0.type == "Linear");
  CHECK(r1.type == "Tanh");
  auto [hm, hs] = mean_std(h);
  auto [am, as] = mean_std(a);
  auto [om, os] = mean_std(out);
  CHECK(r0.act_mean == Approx(hm).epsilon(1e-12));
  CHECK(r0.act_std == Approx(hs).epsilon(1e-12));
  CHECK(r1.act_mean == Approx(am).epsilon(1e-12));
  CHECK(r1.act_std == Approx(as).epsilon(1e-12));
  CHECK(r2.act_mean == Approx(om).epsilon(1e-12));
  CHECK(r2.act_std == Approx(os).epsilon(1e-12));
  // output gradients: ∂loss/∂out = 1 (4 values); ∂loss/∂a = W2 per sample; ∂loss/∂h = dh
  CHECK(r2.grad_norm == Approx(2.0).epsilon(1e-12));
  CHECK(r1.grad_norm == Approx(2 * norm(W2)).epsilon(1e-12));
  CHECK(r0.grad_norm == Approx(norm(dh)).epsilon(1e-12));
  // parameters: SGD moved θ by −0.1·∇θ
  CHECK(r0.param_grad_norm == Approx(norm(grad1)).epsilon(1e-12));
  CHECK(r2.param_grad_norm == Approx(norm(grad2)).epsilon(1e-12));
  std::vector<double> after2 = theta2;
  for (size_t i = 0; i < after2.size(); ++i) after2[i] -= 0.1 * grad2[i];
  CHECK(r2.param_norm == Approx(norm(after2)).epsilon(1e-12));
  CHECK(r0.update_ratio == Approx(0.1 * norm(grad1) / norm(theta1)).epsilon(1e-10));
  CHECK(r2.update_ratio == Approx(0.1 * norm(grad2) / norm(theta2)).epsilon(1e-10));
  // Tanh has no parameters
  CHECK(std::isnan(r1.param_norm));
  CHECK(std::isnan(r1.param_grad_norm));
  CHECK(std::isnan(r1.update_ratio));
  // makemore: the Tanh's saturated fraction; each weight's grad:data and update:data (SGD: ΔW = −0.1·dW)
  double saturated = 0;
  for (double v : a) saturated += std::abs(v) > 0.97 ? 1.0 / 12 : 0.0;
  REQUIRE(saturated > 0);  // the fixed weights saturate some units: the check is not of zeros
  CHECK(r1.saturated == Approx(saturated).epsilon(1e-12));
  CHECK(std::isnan(r0.saturated));
  const double std_W1 = mean_std(W1).second, std_W2 = mean_std(W2).second;
  std::vector<double> W1_after = W1, W2_after = W2;  // grad:data divides by the weight after the step
  for (size_t i = 0; i < 6; ++i) W1_after[i] -= 0.1 * dW1[i];
  for (size_t i = 0; i < 3; ++i) W2_after[i] -= 0.1 * sum_a[i];
  CHECK(r0.grad_data == Approx(mean_std(dW1).second / mean_std(W1_after).second).epsilon(1e-12));
  CHECK(r2.grad_data == Approx(mean_std(sum_a).second / mean_std(W2_after).second).epsilon(1e-12));
  CHECK(r0.update_data == Approx(0.1 * mean_std(dW1).second / std_W1).epsilon(1e-10));
  CHECK(r2.update_data == Approx(0.1 * mean_std(sum_a).second / std_W2).epsilon(1e-10));
  CHECK(std::isnan(r1.grad_data));
  CHECK(std::isnan(r1.update_data));
}

TEST_CASE("StatsRecorder: histograms of each layer's outputs and output gradients, counted by hand", "[train][stats]") {
  TinyModel tiny;
  nl::train::StatsRecorder stats(tiny.model, {.histogram_bins = 4});
  nl::Tensor h = tiny.model[0]->operator()(nl::from_vector(kX, {4, 2}));  // the first Linear's output, by hand
  std::vector<double> a = nl::tanh(h).to_vector<double>();
  tiny.model(nl::from_vector(kX, {4, 2})).sum().backward();
  stats.step();
  REQUIRE(stats.histograms().size() == 6);  // 3 layers × (output, gradient)
  const auto& tanh_out = stats.histograms()[2];
  CHECK(tanh_out.layer == "1");
  CHECK(tanh_out.kind == "output");
  double r = 0;
  for (double v : a) r = std::max(r, std::abs(v));
  CHECK(tanh_out.hi == Approx(r));
  CHECK(tanh_out.lo == Approx(-r));
  std::vector<double> counts(4, 0.0);  // 4 bins over [−r, r]; the largest value falls in the last
  for (double v : a) counts[std::min<size_t>(3, size_t((v + r) / (r / 2)))] += 1;
  for (size_t b = 0; b < 4; ++b) CHECK(tanh_out.density[b] == Approx(counts[b] / (12 * (r / 2))).epsilon(1e-6));
  // the last layer's output gradient is 1 everywhere: all of it in the top bin of [−1, 1]
  const auto& out_grad = stats.histograms()[5];
  CHECK(out_grad.kind == "gradient");
  CHECK(out_grad.density == std::vector<double>{0, 0, 0, 2});
  std::string csv = stats.histograms_csv();
  CHECK_THAT(csv,
             Catch::StartsWith(std::string(nl::train::StatsRecorder::kHistogramCsvHeader) + "\n1,0,Linear,output,"));
  std::string script = stats.makemore_script("m.csv", "h.csv", "m.png", {1}, "tiny");
  CHECK_THAT(script, Catch::Contains("set output 'm.png'") && Catch::Contains("1 (Tanh): std") &&
                         Catch::Contains("guideline: -3") && Catch::Contains("'m.csv' skip 1 every 3::0"));
  CHECK_THROWS_WITH(nl::train::StatsRecorder(tiny.model, {.histogram_bins = -1}), Catch::Contains("histogram_bins"));
}

TEST_CASE("StatsRecorder: every n steps, an initialization step 0, evaluation not counted", "[train][stats]") {
  TinyModel tiny;
  nl::train::StatsRecorder stats(
      tiny.model, {.track = [](const std::string&, const layers::Module& m) { return m.type_name() == "Linear"; },
                   .every = 2,
                   .first_step = 0});
  CHECK(stats.layer_names() == std::vector<std::string>{"0", "2"});
  nl::optim::SGD sgd(tiny.model.parameters(), {.lr = 0.05});
  auto x = nl::from_vector(kX, {4, 2});
  double step2_act_std = 0;
  for (int step = 0; step <= 4; ++step) {
    nl::Tensor loss = tiny.model(x).pow(2.0).sum();
    if (step == 2) {
      nl::NoGradGuard no_grad;
      // what the training forward of step 2 saw — the recorder's hook sees this
      // call too but does not count it, grad mode being off; then an
      // evaluation pass on other data
      step2_act_std = tiny.lin1(x).var({}, false).sqrt().item<double>();
      tiny.model(x * 100.0);  // not counted: no graph is recorded
    }
    sgd.zero_grad();
    loss.backward();
    if (step > 0) sgd.step();  // step 0: statistics at initialization, nothing moves
    stats.step();
  }
  std::vector<int64_t> steps;
  for (auto& row : stats.rows()) steps.push_back(row.step);
  CHECK(steps == std::vector<int64_t>{0, 0, 2, 2, 4, 4});
  CHECK(stats.rows_at(0)[0].update_ratio == 0.0);  // nothing moved at initialization
  CHECK(stats.rows_at(2)[0].update_ratio > 0.0);
  CHECK(stats.rows_at(2)[0].act_std == Approx(step2_act_std).epsilon(1e-12));
  CHECK(stats.rows_at(1).empty());
}

TEST_CASE("StatsRecorder: CSV, gnuplot script, hooks removed with the recorder", "[train][stats]") {
  TinyModel tiny;
  auto x = nl::from_vector(kX, {4, 2});
  {
    nl::train::StatsRecorder stats(tiny.model);
    tiny.model(x).sum().backward();
    stats.step();
    std::string csv = stats.csv();
    std::istringstream lines(csv);
    std::string header, line;
    std::getline(lines, header);
    CHECK(header == nl::train::StatsRecorder::kCsvHeader);
    int count = 0;
    while (std::getline(lines, line)) ++count;
    CHECK(count == 3);
    CHECK_THAT(csv,
               Catch::Contains("\n1,1,Tanh,") && Catch::Contains(",nan,nan,nan,") && Catch::Contains(",nan,nan\n"));
    auto path = std::filesystem::temp_directory_path() / "normlab_test_stats.csv";
    stats.write_csv(path.string());
    std::ifstream in(path);
    std::stringstream read;
    read << in.rdbuf();
    CHECK(read.str() == csv);
    std::filesystem::remove(path);
    std::string script = stats.gnuplot_script("stats.csv", "stats.png", "tiny");
    CHECK_THAT(script, Catch::Contains("layers = '0 1 2'") && Catch::Contains("set output 'stats.png'") &&
                           Catch::Contains("'stats.csv' skip 1 every 3::(i-1)"));
  }
  // the recorder is gone; the model runs as before (no hooks left behind)
  nl::Tensor y = tiny.model(x);
  CHECK(y.shape() == nl::Shape{4, 1});
  CHECK_THROWS_WITH(nl::train::StatsRecorder(tiny.model, {.every = 0}), Catch::Contains("every"));
  CHECK_THROWS_WITH(
      nl::train::StatsRecorder(tiny.model, {.track = [](const std::string&, const layers::Module&) { return false; }}),
      Catch::Contains("no layer"));
}

namespace {
// A model's layer outputs by dotted name, kept (with retain_grad) from a forward
// written out child by child — before check_recorder_rows attaches the
// recorder, so no hook runs in it and the expected statistics do not come
// from the mechanism under test.
struct LayerOutputs {
  std::map<std::string, nl::Tensor> outputs;
  nl::Tensor keep(const std::string& name, nl::Tensor t) {
    t.retain_grad();
    outputs[name] = t;
    return t;
  }
};

double population_std(const nl::Tensor& t) { return std::sqrt(t.var({}, false).item<double>()); }
double l2_norm(const nl::Tensor& t) { return std::sqrt((t * t).sum().item<double>()); }

// One SGD step of model on (ids, targets) with a StatsRecorder attached by one
// line; every recorded row named in `expected` must carry that output's
// std and gradient norm. Returns the names it compared.
template <typename Model>
std::set<std::string> check_recorder_rows(Model& model, const nl::Tensor& ids, const nl::Tensor& targets,
                                          const LayerOutputs& expected, double expected_loss,
                                          nl::train::StatsRecorder::Options options = {}) {
  nl::train::StatsRecorder stats(model, std::move(options));
  nl::optim::SGD sgd(model.parameters(), {.lr = 0.1});
  nl::Tensor logits = model(ids);
  nl::Tensor loss = nl::cross_entropy(logits.reshape({-1, logits.size(-1)}), targets);
  CHECK(loss.item<double>() == Approx(expected_loss).epsilon(1e-12));  // the direct forward is the same computation
  sgd.zero_grad();
  loss.backward();
  sgd.step();
  stats.step();
  std::set<std::string> compared;
  for (const auto& row : stats.rows_at(1)) {
    auto it = expected.outputs.find(row.layer);
    if (it == expected.outputs.end()) continue;
    INFO(row.layer << " (" << row.type << ")");
    REQUIRE(std::isfinite(row.act_std));
    REQUIRE(std::isfinite(row.grad_norm));
    CHECK(row.act_std == Approx(population_std(it->second)).epsilon(1e-10));
    CHECK(row.act_mean == Approx(it->second.mean().item<double>()).margin(1e-12));
    REQUIRE(it->second.grad().defined());
    CHECK(row.grad_norm == Approx(l2_norm(it->second.grad())).epsilon(1e-10));
    compared.insert(row.layer);
  }
  return compared;
}
}  // namespace

TEST_CASE("StatsRecorder: one line on a GPT records every block's Linear, LayerNorm and attention output",
          "[train][stats][gpt]") {
  nl::manual_seed(11);
  nl::models::GPTConfig c;
  c.vocab_size = 7;
  c.block_size = 5;
  c.d_model = 8;
  c.num_heads = 2;
  c.num_layers = 2;
  c.dim_feedforward = 12;
  c.norm = layers::NormPlacement::pre;
  c.dtype = nl::f64;
  nl::models::GPT gpt(c);
  nl::Tensor ids = nl::from_vector<int64_t>({0, 3, 6, 2, 5, 1, 4, 4, 0, 2}, {2, 5});
  nl::Tensor targets = nl::from_vector<int64_t>({3, 6, 2, 5, 1, 4, 4, 0, 2, 6});

  // the GPT's forward written out (models/gpt.h), each child's output kept
  LayerOutputs direct;
  nl::Tensor x = direct.keep("token_embedding", (*gpt.token_embedding)(ids)) +
                 direct.keep("position_embedding", (*gpt.position_embedding)(nl::arange(5)));
  for (size_t l = 0; l < gpt.blocks->size(); ++l) {
    auto& block = *(*gpt.blocks)[l];
    std::string at = fmt::format("blocks.{}.", l);
    nl::Tensor h = direct.keep(at + "norm1", (*block.norm1)(x));
    x = x + direct.keep(at + "self_attn",
                        (*block.self_attn)(h, h, h, nl::Tensor(), nl::Tensor(), /*is_causal=*/true, false).output);
    direct.outputs[at + "self_attn.out_proj"] = direct.outputs[at + "self_attn"];  // batch-first: the same tensor
    h = direct.keep(at + "norm2", (*block.norm2)(x));
    h = nl::gelu(direct.keep(at + "linear1", (*block.linear1)(h)));
    x = x + direct.keep(at + "linear2", (*block.linear2)(h));
  }
  x = direct.keep("final_norm", (*gpt.final_norm)(x));
  nl::Tensor loss = nl::cross_entropy(direct.keep("head", (*gpt.head)(x)).reshape({-1, 7}), targets);
  loss.backward();
  double expected_loss = loss.item<double>();
  gpt.zero_grad();

  // every module but the containers (blocks, blocks.<l>); self_attn is not a leaf, so name it
  auto compared = check_recorder_rows(
      gpt, ids, targets, direct, expected_loss, {.track = [](const std::string& name, const layers::Module& m) {
        return m.type_name() != "ModuleList" && m.type_name() != "TransformerEncoderLayer";
      }});
  std::set<std::string> all;
  for (auto& [name, t] : direct.outputs) all.insert(name);
  CHECK(compared == all);  // 2 embeddings + 2 blocks × 6 + final_norm + head, none silently skipped
  CHECK(compared.size() == 16);
}

TEST_CASE("StatsRecorder: one line on a CharLSTM records the embedding, the LSTM and the head",
          "[train][stats][lstm]") {
  nl::manual_seed(12);
  nl::models::CharLSTM model(6, 4, 5, 1, layers::LSTMCell::layer_norm);
  model.to(nl::f64);
  nl::Tensor ids = nl::from_vector<int64_t>({0, 3, 5, 2, 1, 4, 4, 0}, {2, 4});
  nl::Tensor targets = nl::from_vector<int64_t>({3, 5, 2, 1, 4, 4, 0, 2});

  LayerOutputs direct;
  nl::Tensor h = direct.keep("lstm", (*model.lstm)(direct.keep("embedding", (*model.embedding)(ids))));
  nl::Tensor loss = nl::cross_entropy(direct.keep("head", (*model.head)(h)).reshape({-1, 6}), targets);
  loss.backward();
  double expected_loss = loss.item<double>();
  model.zero_grad();

  auto compared = check_recorder_rows(model, ids, targets, direct, expected_loss);  // default: every leaf
  CHECK(compared == std::set<std::string>{"embedding", "lstm", "head"});
}

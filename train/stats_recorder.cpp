#include "train/stats_recorder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/io/atomic_file.h"
#include "core/kernels/moments.h"
#include "core/ops.h"
#include "train/csv.h"
#include "train/gnuplot.h"

namespace nl::train {

using layers::HookHandle;
using layers::Module;
using layers::Named;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// fn(p, n) over the contiguous values of t as doubles-to-be (T = float or double).
template <typename Fn>
void with_values(const Tensor& t, Fn&& fn) {
  NoGradGuard no_grad;
  Tensor c = t.detach().contiguous();
  dispatch_floating("StatsRecorder", c.dtype(), [&]<typename T>() { fn(c.data<T>(), c.numel()); });
}

double squared_norm(const Tensor& t) {
  double sum = 0;
  with_values(t, [&](const auto* p, int64_t n) {
    for (int64_t i = 0; i < n; ++i) sum += double(p[i]) * double(p[i]);
  });
  return sum;
}

// Σ (a − b)² over two tensors of the same shape and dtype.
double squared_distance(const Tensor& a, const Tensor& b) {
  NoGradGuard no_grad;
  return squared_norm(a.detach() - b.detach());
}

using kernels::Moments;  // count, mean, Σ(x − mean)², and Chan et al.'s merge (core/kernels/moments.h)

// The moments of a tensor's values (two passes, in double).
Moments moments_of(const Tensor& t) {
  Moments m;
  with_values(t, [&](const auto* p, int64_t n) {
    double sum = 0, squares = 0;
    for (int64_t i = 0; i < n; ++i) sum += double(p[i]);
    double mean = n ? sum / double(n) : 0;
    for (int64_t i = 0; i < n; ++i) squares += (double(p[i]) - mean) * (double(p[i]) - mean);
    m = {double(n), mean, squares};
  });
  return m;
}
// Population standard deviation of a tensor's values.
double std_of(const Tensor& t) {
  Moments m = moments_of(t);
  return m.count > 0 ? std::sqrt(m.m2 / m.count) : kNaN;
}

// How many of y's values have |y| > kSaturated.
double count_saturated(const Tensor& y) {
  double n = 0;
  with_values(y, [&](const auto* p, int64_t count) {
    for (int64_t i = 0; i < count; ++i) n += std::abs(double(p[i])) > StatsRecorder::kSaturated;
  });
  return n;
}

void append_values(const Tensor& t, std::vector<float>& out) {
  with_values(t, [&](const auto* p, int64_t n) { out.insert(out.end(), p, p + n); });
}

// The histogram of `values` in `bins` equal bins over [−max|v|, max|v|] (all
// in the middle bin when every value is 0), as a density.
StatsRecorder::Histogram histogram_of(int64_t step, const std::string& layer, const std::string& type,
                                      const std::string& kind, const std::vector<float>& values, int64_t bins) {
  double r = 0;
  for (float v : values)
    if (std::isfinite(v)) r = std::max(r, std::abs(double(v)));
  if (r == 0) r = 1;
  StatsRecorder::Histogram h{step, layer, type, kind, -r, r, std::vector<double>(size_t(bins), 0.0)};
  const double width = 2 * r / double(bins);
  double counted = 0;
  for (float v : values) {
    if (!std::isfinite(v)) continue;  // NaN/inf: not drawable; the act_std column shows them
    int64_t b = std::min<int64_t>(bins - 1, int64_t((double(v) + r) / width));
    h.density[size_t(b)] += 1;
    counted += 1;
  }
  for (double& d : h.density) d = counted > 0 ? d / (counted * width) : 0;
  return h;
}
}  // namespace

struct StatsRecorder::Layer {
  std::string name;
  Module* module;
  std::vector<Tensor> params;
  std::vector<Tensor> before;  // parameter values at the previous step() (empty: no snapshot)
  int64_t weight = -1;         // index in params of the weight (grad_data, update_data); -1: none
  Moments activations;         // this step's
  double grad_squares = 0;
  double saturated = 0;  // this step's outputs with |y| > kSaturated (Tanh layers)
  bool saw_backward = false;
  std::vector<float> output_values, gradient_values;  // this step's, for the histograms
  HookHandle forward_hook, backward_hook;
};

StatsRecorder::StatsRecorder(Module& model) : StatsRecorder(model, Options{}) {}

StatsRecorder::StatsRecorder(Module& model, Options options)
    : options_(std::move(options)), next_step_(options_.first_step) {
  if (options_.every < 1) fail("StatsRecorder: every must be >= 1, got {}", options_.every);
  if (options_.histogram_bins < 0 || options_.histogram_bins > 100000)
    fail("StatsRecorder: histogram_bins must be in [0, 100000], got {}", options_.histogram_bins);
  Named<Module*> candidates;
  for (auto& [name, module] : model.named_modules()) candidates.emplace_back(name, module.get());
  if (candidates.empty()) candidates.emplace_back(model.type_name(), &model);  // a single layer
  for (auto& [name, module] : candidates) {
    bool wanted = options_.track ? options_.track(name, *module) : module->named_children().empty();
    if (!wanted) continue;
    auto layer = std::make_unique<Layer>();
    layer->name = name;
    layer->module = module;
    layer->params = module->parameters();
    for (size_t i = 0; i < layer->params.size() && layer->weight < 0; ++i)
      if (layer->params[i].dim() >= 2) layer->weight = int64_t(i);
    Layer* l = layer.get();
    const bool is_tanh = module->type_name() == "Tanh";
    // The hooks run only on recorded steps, and only for calls that build a graph.
    layer->forward_hook = module->register_forward_hook([this, l, is_tanh](Module&, const Tensor&, const Tensor& y) {
      if (recording(next_step_) && is_grad_enabled() && y.is_floating_point()) {
        l->activations = kernels::merge(l->activations, moments_of(y));
        if (is_tanh) l->saturated += count_saturated(y);
        if (options_.histogram_bins > 0) append_values(y, l->output_values);
      }
      return Tensor();
    });
    layer->backward_hook = module->register_full_backward_pre_hook([this, l](Module&, const Tensor& grad) {
      if (recording(next_step_)) {
        l->grad_squares += squared_norm(grad);
        l->saw_backward = true;
        if (options_.histogram_bins > 0) append_values(grad, l->gradient_values);
      }
      return Tensor();
    });
    layers_.push_back(std::move(layer));
  }
  if (layers_.empty()) fail("StatsRecorder: no layer of {} matches the tracking rule", model.type_name());
  if (recording(next_step_)) snapshot_parameters();
}

StatsRecorder::~StatsRecorder() {
  for (auto& layer : layers_) {
    layer->forward_hook.remove();
    layer->backward_hook.remove();
  }
}

bool StatsRecorder::recording(int64_t step) const {
  return step == options_.first_step || (step - options_.first_step) % options_.every == 0;
}

void StatsRecorder::snapshot_parameters() {
  NoGradGuard no_grad;
  for (auto& layer : layers_) {
    layer->before.clear();
    for (const Tensor& p : layer->params) layer->before.push_back(p.detach().clone());
  }
}

void StatsRecorder::step() {
  int64_t step = next_step_++;
  if (recording(step)) {
    for (auto& layer : layers_) {
      Row row{step, layer->name, layer->module->type_name(), kNaN, kNaN, kNaN, kNaN, kNaN, kNaN, kNaN, kNaN, kNaN};
      if (layer->activations.count > 0) {
        row.act_mean = layer->activations.mean;
        row.act_std = std::sqrt(layer->activations.m2 / layer->activations.count);
        if (row.type == "Tanh") row.saturated = layer->saturated / layer->activations.count;
      }
      if (layer->weight >= 0) {
        const Tensor& w = layer->params[size_t(layer->weight)];
        const double data_std = std_of(w);
        if (w.grad().defined()) row.grad_data = std_of(w.grad()) / data_std;
        if (!layer->before.empty()) {
          const Tensor& w0 = layer->before[size_t(layer->weight)];
          NoGradGuard no_grad;
          row.update_data = std_of(w.detach() - w0) / std_of(w0);
        }
      }
      if (options_.histogram_bins > 0) {
        for (auto [kind, values] :
             {std::pair{"output", &layer->output_values}, std::pair{"gradient", &layer->gradient_values}})
          if (!values->empty())
            histograms_.push_back(histogram_of(step, layer->name, row.type, kind, *values, options_.histogram_bins));
        layer->output_values.clear();
        layer->gradient_values.clear();
      }
      if (layer->saw_backward) row.grad_norm = std::sqrt(layer->grad_squares);
      if (!layer->params.empty()) {
        double weights = 0, grads = 0, moved = 0, before = 0;
        bool any_grad = false;
        for (size_t i = 0; i < layer->params.size(); ++i) {
          const Tensor& p = layer->params[i];
          weights += squared_norm(p);
          if (p.grad().defined()) {
            grads += squared_norm(p.grad());
            any_grad = true;
          }
          if (i < layer->before.size()) {
            moved += squared_distance(p, layer->before[i]);
            before += squared_norm(layer->before[i]);
          }
        }
        row.param_norm = std::sqrt(weights);
        if (any_grad) row.param_grad_norm = std::sqrt(grads);
        if (!layer->before.empty()) row.update_ratio = before > 0 ? std::sqrt(moved / before) : kNaN;
      }
      rows_.push_back(std::move(row));
      layer->activations = {};
      layer->grad_squares = 0;
      layer->saturated = 0;
      layer->saw_backward = false;
    }
  }
  if (recording(next_step_))
    snapshot_parameters();
  else
    for (auto& layer : layers_) layer->before.clear();
}

std::vector<std::string> StatsRecorder::layer_names() const {
  std::vector<std::string> names;
  for (auto& layer : layers_) names.push_back(layer->name);
  return names;
}

std::vector<StatsRecorder::LayerInfo> StatsRecorder::layer_info() const {
  std::vector<LayerInfo> info;
  for (auto& layer : layers_) info.push_back({layer->name, layer->module->type_name(), layer->weight >= 0});
  return info;
}

std::vector<StatsRecorder::Row> StatsRecorder::rows_at(int64_t step) const {
  std::vector<Row> out;
  for (const Row& row : rows_)
    if (row.step == step) out.push_back(row);
  return out;
}

std::string StatsRecorder::csv() const {
  std::string out = std::string(kCsvHeader) + "\n";
  for (const Row& r : rows_)
    out += fmt::format("{},{},{},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g}\n", r.step,
                       csv_field(r.layer), csv_field(r.type), r.act_mean, r.act_std, r.grad_norm, r.param_norm,
                       r.param_grad_norm, r.update_ratio, r.saturated, r.grad_data, r.update_data);
  return out;
}

void StatsRecorder::write_csv(const std::string& path) const { io::write_file_atomically(path, csv()); }

std::string StatsRecorder::histograms_csv() const {
  std::string out = std::string(kHistogramCsvHeader) + "\n";
  for (const Histogram& h : histograms_) {
    const double width = (h.hi - h.lo) / double(h.density.size());
    for (size_t b = 0; b < h.density.size(); ++b)
      out += fmt::format("{},{},{},{},{:.9g},{:.9g}\n", h.step, csv_field(h.layer), csv_field(h.type), h.kind,
                         h.lo + (double(b) + 0.5) * width, h.density[b]);
  }
  return out;
}

void StatsRecorder::write_histograms_csv(const std::string& path) const {
  io::write_file_atomically(path, histograms_csv());
}

std::string StatsRecorder::gnuplot_script(const std::string& csv_path, const std::string& png_path,
                                          const std::string& title) const {
  using gnuplot::quote;
  std::string layers;
  for (auto& layer : layers_) layers += (layers.empty() ? "" : " ") + layer->name;
  std::string script = fmt::format(
      "# Per-layer training statistics from {0} (nl::train::StatsRecorder)\n"
      "set datafile separator ','\n"
      "set terminal pngcairo noenhanced size 1400,1000\n"
      "set output {1}\n"
      "layers = {2}\n"
      "set multiplot layout 2,2 title {3}\n"
      "set logscale y\nset format y '%.0e'\nset xlabel 'step'\nset key outside right font ',8'\n",
      csv_path, quote(png_path), quote(layers), quote(title));
  // A step's rows list the layers in order, so layer i is every n-th row from row i.
  struct Panel {
    int column;
    const char* title;
    double Row::*field;
  };
  for (const Panel& panel :
       {Panel{5, "activation std", &Row::act_std}, Panel{6, "output-gradient norm", &Row::grad_norm},
        Panel{8, "parameter-gradient norm", &Row::param_grad_norm},
        Panel{9, "update / weight ratio", &Row::update_ratio}}) {
    // gnuplot stops at a log-scale plot without a single positive value; draw an empty panel instead
    bool any = std::any_of(rows_.begin(), rows_.end(), [&](const Row& r) { return r.*panel.field > 0; });
    script +=
        any ? fmt::format(
                  "set title '{1}'\n"
                  "plot for [i=1:{3}] {0} skip 1 every {3}::(i-1) using 1:(column({2}) > 0 ? "
                  "column({2}) : NaN) with linespoints pointsize 0.4 title word(layers, i)\n",
                  quote(csv_path), panel.title, panel.column, layers_.size())
            : fmt::format("set title '{}: no positive values recorded'\nplot 1 lc rgb 'white' notitle\n", panel.title);
  }
  return script + "unset multiplot\n";
}

}  // namespace nl::train

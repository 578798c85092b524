// StatsRecorder::makemore_script: Karpathy's views of a network in training
// ("Building makemore Part 3") as one gnuplot figure.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "train/gnuplot.h"
#include "train/stats_recorder.h"

namespace nl::train {

namespace {
bool is_activation(const std::string& type) {
  return type == "Tanh" || type == "ReLU" || type == "Sigmoid" || type == "GELU";
}
}  // namespace

std::string StatsRecorder::makemore_script(const std::string& csv_path, const std::string& histogram_csv_path,
                                           const std::string& png_path, const std::vector<int64_t>& steps,
                                           const std::string& title) const {
  using gnuplot::quote;
  const std::vector<LayerInfo> layers = layer_info();
  const bool any_activation =
      std::any_of(layers.begin(), layers.end(), [](const LayerInfo& l) { return is_activation(l.type); });
  std::string script = fmt::format(
      "# Karpathy's makemore views from {0} and {1} (nl::train::StatsRecorder)\n"
      "set datafile separator ','\nset terminal pngcairo noenhanced size 1400,{2}\nset output {3}\n"
      "set multiplot layout {4},2 title {5}\nset key outside right font ',8'\nset grid\n",
      csv_path, histogram_csv_path, 420 * (steps.size() + 1), quote(png_path), steps.size() + 1, quote(title));
  // the histograms: one line per layer (its rows are contiguous in the CSV)
  for (int64_t step : steps) {
    const std::vector<Row> rows = rows_at(step);
    for (const char* kind : {"output", "gradient"}) {
      std::vector<std::string> lines;
      for (const Row& r : rows) {
        if (any_activation && !is_activation(r.type)) continue;
        bool has = std::any_of(histograms_.begin(), histograms_.end(), [&](const Histogram& h) {
          return h.step == step && h.layer == r.layer && h.kind == kind;
        });
        if (!has) continue;
        std::string key =
            std::string(kind) == "output"
                ? fmt::format("{} ({}): std {:.2f}{}", r.layer, r.type, r.act_std,
                              std::isnan(r.saturated) ? "" : fmt::format(", saturated {:.1f}%", 100 * r.saturated))
                : fmt::format("{} ({}): |grad| {:.1e}", r.layer, r.type, r.grad_norm);
        lines.push_back(fmt::format(
            "{0} skip 1 using (strcol(2) eq {1} && strcol(4) eq '{2}' && $1 == {3} ? $5 : 1/0):6 with lines title {4}",
            quote(histogram_csv_path), quote(r.layer), kind, step, quote(key)));
      }
      script += fmt::format("set title {}\nset xlabel '{}'\nset ylabel 'density'\nset xtics rotate by -45\n",
                            quote(fmt::format("{} distribution of each {} at step {}",
                                              std::string(kind) == "output" ? "output" : "output-gradient",
                                              any_activation ? "activation layer" : "layer", step)),
                            std::string(kind) == "output" ? "value" : "gradient value");
      script += lines.empty() ? "plot 1 lc rgb 'white' title 'no histograms (histogram_bins = 0?)'\n"
                              : "plot " + fmt::format("{}", fmt::join(lines, ", \\\n     ")) + "\n";
    }
  }
  // the weights' ratios over the steps: layer i is every n-th row from row i
  std::vector<size_t> weights;
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].has_weight) weights.push_back(i);
  auto over_steps = [&](const std::string& y, const std::string& extra) {
    std::vector<std::string> lines;
    for (size_t i : weights)
      lines.push_back(fmt::format("{} skip 1 every {}::{} using 1:({}) with lines title {}", quote(csv_path),
                                  layers.size(), i, y, quote(layers[i].name)));
    if (!extra.empty()) lines.push_back(extra);
    return lines.empty() ? std::string("plot 1 lc rgb 'white' title 'no layer with a weight'\n")
                         : "plot " + fmt::format("{}", fmt::join(lines, ", \\\n     ")) + "\n";
  };
  script +=
      "set xtics norotate\nset title 'grad:data, std(dW) / std(W) of each weight'\nset xlabel 'step'\n"
      "set ylabel 'ratio'\n"
      "set logscale y\n" +
      over_steps("column(11) > 0 ? column(11) : NaN", "") + "unset logscale y\n";
  script +=
      "set title 'update:data, log10(std(W_after - W_before) / std(W_before))'\nset ylabel 'log10'\n" +
      over_steps("column(12) > 0 ? log10(column(12)) : NaN", "-3 with lines dt 2 lc rgb 'black' title 'guideline: -3'");
  return script + "unset multiplot\n";
}

}  // namespace nl::train

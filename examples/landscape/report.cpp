// landscape's report: the CSVs, the figure (Santurkar et al.'s Figure 4 as
// bands over training, and the covariate shift), the table of means over
// probes and seeds, and the claims' verdicts.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "examples/common/report.h"
#include "examples/common/stats.h"
#include "examples/common/table.h"
#include "examples/landscape/landscape.h"
#include "normlab.h"

namespace landscape {

namespace {

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x / double(v.size());
  return s;
}

// The measures of one probe that the claims compare.
struct Measures {
  double loss_range, grad_change, beta, shift_relative, shift_cosine;
};
Measures measures(const ProbeRow& p) {
  return {p.gradient.loss_band().hi - p.gradient.loss_band().lo, p.gradient.grad_change_band().hi,
          p.gradient.beta_smoothness(), mean(p.shift.relative), mean(p.shift.cosine)};
}

// Each measure of a run, averaged over its probes.
Measures run_means(const Run& r) {
  Measures m{0, 0, 0, 0, 0};
  const double n = double(r.probes.size());
  for (const ProbeRow& p : r.probes) {
    Measures q = measures(p);
    m.loss_range += q.loss_range / n, m.grad_change += q.grad_change / n, m.beta += q.beta / n;
    m.shift_relative += q.shift_relative / n, m.shift_cosine += q.shift_cosine / n;
  }
  return m;
}

void write_csvs(const std::string& out, const std::vector<Run>& runs) {
  std::vector<std::string> probes, along, shift, steps;
  for (const Run& r : runs) {
    for (const ProbeRow& p : r.probes) {
      const GradientProbe& g = p.gradient;
      const Band loss = g.loss_band(), change = g.grad_change_band();
      probes.push_back(fmt::format("{},{},{},{:.8g},{:.8g},{:.8g},{:.8g},{:.8g},{:.8g},{:.8g},{:.8g},{:.8g}", r.norm,
                                   r.seed, p.step, g.loss, g.grad_norm, loss.lo, loss.hi, change.lo, change.hi,
                                   g.beta_smoothness(), mean(p.shift.relative), mean(p.shift.cosine)));
      for (size_t k = 0; k < g.etas.size(); ++k)
        along.push_back(fmt::format("{},{},{},{:.8g},{:.8g},{:.8g}", r.norm, r.seed, p.step, g.etas[k], g.losses[k],
                                    g.grad_changes[k]));
      for (size_t l = 0; l < p.shift.l2.size(); ++l)
        shift.push_back(fmt::format("{},{},{},{},{:.8g},{:.8g},{:.8g}", r.norm, r.seed, p.step, l + 1, p.shift.l2[l],
                                    p.shift.relative[l], p.shift.cosine[l]));
    }
    for (size_t s = 0; s < r.losses.size(); ++s)
      steps.push_back(fmt::format("{},{},{},{:.8g}", r.norm, r.seed, s + 1, r.losses[s]));
  }
  nl::train::write_csv(out + "/probes.csv",
                       "norm,seed,step,loss,grad_norm,loss_min,loss_max,grad_change_min,grad_change_max,beta,"
                       "shift_relative,shift_cosine",
                       probes);
  nl::train::write_csv(out + "/landscape.csv", "norm,seed,step,eta,loss,grad_change", along);
  nl::train::write_csv(out + "/ics.csv", "norm,seed,step,layer,l2,relative,cosine", shift);
  nl::train::write_csv(out + "/steps.csv", "norm,seed,step,loss", steps);
}

// bands.csv: per norm and probed step, the means over seeds of the bands' edges and the measures.
void write_bands(const std::string& out, const std::vector<std::string>& norms, const std::vector<Run>& runs) {
  std::vector<std::string> rows;
  for (const std::string& norm : norms) {
    std::map<int64_t, std::vector<std::vector<double>>> at;  // step -> per seed: the columns
    for (const Run& r : runs) {
      if (r.norm != norm) continue;
      for (const ProbeRow& p : r.probes) {
        const GradientProbe& g = p.gradient;
        const Band loss = g.loss_band(), change = g.grad_change_band();
        at[p.step].push_back({loss.lo, loss.hi, change.lo, change.hi, g.beta_smoothness(), mean(p.shift.relative)});
      }
    }
    for (const auto& [step, seeds] : at) {
      std::string row = fmt::format("{},{}", norm, step);
      for (size_t c = 0; c < seeds.front().size(); ++c) {
        double s = 0;
        for (const auto& v : seeds) s += v[c] / double(seeds.size());
        row += fmt::format(",{:.8g}", s);
      }
      rows.push_back(row);
    }
  }
  nl::train::write_csv(out + "/bands.csv",
                       "norm,step,loss_min,loss_max,grad_change_min,grad_change_max,beta,shift_relative", rows);
}

std::string plot_script(const Config& cfg, const std::vector<std::string>& norms) {
  const std::string bands = nl::train::gnuplot::quote(cfg.out + "/bands.csv");
  std::string s = fmt::format(
      "set terminal pngcairo noenhanced size 1400,1000 font ',10'\nset output {}\nset datafile separator ','\n"
      "norms = '{}'\nset grid\nset key top right\nset xlabel 'training step'\n"
      "set multiplot layout 2,2 title 'landscape: {} hidden layers of {}, SGD lr {:g}; probes along -eta*g, eta = lr x "
      "{}; mean over {} seed(s)'\nset style fill transparent solid 0.25 noborder\n",
      nl::train::gnuplot::quote(cfg.out + "/landscape.png"), fmt::join(norms, " "), cfg.depth, cfg.width, cfg.lr,
      fmt::join(cfg.step_multiples, ", "), cfg.seeds);
  auto band = [&](const std::string& title, const std::string& ylabel, int lo, int hi, bool logscale) {
    return fmt::format(
        "set title {0}\nset ylabel {1}\n{4}"
        "plot for [i=1:words(norms)] {2} skip 1 using 2:(strcol(1) eq word(norms,i) ? ${5} : 1/0):{6} with "
        "filledcurves lc i title word(norms,i), \\\n     for [i=1:words(norms)] {2} skip 1 using 2:(strcol(1) eq "
        "word(norms,i) ? ${6} : 1/0) with lines lc i notitle\n{3}",
        nl::train::gnuplot::quote(title), nl::train::gnuplot::quote(ylabel), bands,
        logscale ? "unset logscale y\n" : "", logscale ? "set logscale y\n" : "", lo, hi);
  };
  s += band("loss landscape: L(theta - eta*g), min to max over eta", "loss", 3, 4, true);
  s += band("gradient predictiveness: ||grad L(theta - eta*g) - grad L(theta)||, min to max",
            "l2 change of the gradient", 5, 6, true);
  const char* lines[][3] = {{"effective beta-smoothness: max over eta of ||gradient change|| / ||eta*g||", "beta", "7"},
                            {"internal covariate shift: ||G - G'|| / ||G||, mean over the Linear layers",
                             "relative change of a layer's gradient", "8"}};
  for (auto& [title, ylabel, column] : lines)
    s += fmt::format(
        "set title {}\nset ylabel {}\nset logscale y\nplot for [i=1:words(norms)] {} skip 1 using 2:(strcol(1) eq "
        "word(norms,i) ? ${} : 1/0) with linespoints lc i title word(norms,i)\nunset logscale y\n",
        nl::train::gnuplot::quote(title), nl::train::gnuplot::quote(ylabel), bands, column);
  return s + "unset multiplot\n";
}

// Whether every other norm's mean is below none's (examples::verdict).
std::string verdict_below_none(const std::map<std::string, examples::Spread>& by_norm) {
  if (!by_norm.count("none") || by_norm.size() < 2) return "not measured (needs none and another norm)";
  std::vector<bool> below;
  for (const auto& [norm, spread] : by_norm)
    if (norm != "none") below.push_back(spread.mean < by_norm.at("none").mean);
  return examples::verdict(below);
}

}  // namespace

nlohmann::json report(const Config& cfg, const std::string& data_name, const std::vector<Run>& runs) {
  nl::io::create_directories(cfg.out);
  std::vector<std::string> norms;
  for (const Run& r : runs)
    if (std::find(norms.begin(), norms.end(), r.norm) == norms.end()) norms.push_back(r.norm);
  write_csvs(cfg.out, runs);
  write_bands(cfg.out, norms, runs);
  const bool plotted = nl::train::gnuplot::render(cfg.out + "/landscape.gp", plot_script(cfg, norms));

  // each measure: per norm, the spread over seeds of the runs' means over probes
  const std::pair<const char*, double Measures::*> fields[] = {{"loss_range", &Measures::loss_range},
                                                               {"grad_change", &Measures::grad_change},
                                                               {"beta", &Measures::beta},
                                                               {"shift_relative", &Measures::shift_relative},
                                                               {"shift_cosine", &Measures::shift_cosine}};
  std::map<std::string, std::map<std::string, examples::Spread>> spread;  // field -> norm -> spread
  examples::Table table(
      {"norm", "loss range", "gradient change", "beta", "ICS ||G-G'||/||G||", "ICS cosine", "train loss", "test acc"});
  nlohmann::json per_norm = nlohmann::json::object();
  for (const std::string& norm : norms) {
    std::map<std::string, std::vector<double>> values;
    std::vector<double> train_loss, test_acc;
    for (const Run& r : runs) {
      if (r.norm != norm) continue;
      Measures m = run_means(r);
      for (auto& [name, field] : fields) values[name].push_back(m.*field);
      train_loss.push_back(r.train_loss);
      test_acc.push_back(r.test_acc);
    }
    std::vector<std::string> row{norm};
    for (auto& [name, field] : fields) {
      spread[name][norm] = examples::spread_of(values[name]);
      row.push_back(examples::plus_minus(spread[name][norm], 4));
      per_norm[norm][name] = {{"mean", spread[name][norm].mean}, {"std", spread[name][norm].std}};
    }
    row.push_back(examples::plus_minus(examples::spread_of(train_loss), 4));
    row.push_back(examples::plus_minus(examples::spread_of(test_acc), 4));
    per_norm[norm]["train_loss"] = mean(train_loss);
    per_norm[norm]["test_acc"] = mean(test_acc);
    table.add_row(row);
  }
  nlohmann::json claims = {
      {"smoother_loss_landscape", verdict_below_none(spread["loss_range"])},
      {"more_predictive_gradient", verdict_below_none(spread["grad_change"])},
      {"smaller_beta_smoothness", verdict_below_none(spread["beta"])},
      {"batch_norm_does_not_reduce_ics",
       spread["shift_relative"].count("batch") && spread["shift_relative"].count("none")
           ? (spread["shift_relative"]["batch"].mean >= spread["shift_relative"]["none"].mean ? "held" : "not held")
           : "not measured (needs none and batch)"}};

  fmt::print("\nMeans over the probes (every {} steps, step 0 included), then over {} seed(s), mean ± std:\n{}",
             cfg.probe_every, cfg.seeds, table.text());
  fmt::print(
      "\nClaims (each normalized net against none):\n  1. a smoother loss landscape (smaller loss range): {}\n"
      "  2. a more predictive gradient (smaller gradient change): {}\n  3. a smaller effective beta-smoothness: {}\n"
      "  4. BatchNorm does not reduce the internal covariate shift (Santurkar et al.): {}\n",
      claims["smoother_loss_landscape"].get<std::string>(), claims["more_predictive_gradient"].get<std::string>(),
      claims["smaller_beta_smoothness"].get<std::string>(),
      claims["batch_norm_does_not_reduce_ics"].get<std::string>());
  fmt::print("\nwrote {}/probes.csv, landscape.csv, ics.csv, steps.csv, bands.csv{}\n", cfg.out,
             plotted ? ", landscape.png" : "");
  return {{"program", "landscape"},
          {"data", data_name},
          {"depth", cfg.depth},
          {"width", cfg.width},
          {"steps", cfg.steps},
          {"batch_size", cfg.batch_size},
          {"lr", cfg.lr},
          {"probe_every", cfg.probe_every},
          {"step_multiples", cfg.step_multiples},
          {"seeds", cfg.seeds},
          {"seed", cfg.seed},
          {"norms", per_norm},
          {"claims", claims}};
}

}  // namespace landscape

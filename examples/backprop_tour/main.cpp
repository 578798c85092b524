// backprop_tour: LayerNorm, BatchNorm (training mode) and RMSNorm on a tiny
// input, step by step. For each norm it prints the forward's intermediates
// (mean, var, rstd, xhat, y), an upstream gradient and every backward term
// (Σdxhat, Σdxhat·xhat, dx, dgamma, dbeta), then checks the gradient three
// ways in float64: the fused analytic kernel, autograd through the same norm
// composed from primitive ops, and central finite differences. --jacobian
// prints ∂y/∂x, where LayerNorm couples the features of one sample and
// BatchNorm the samples of one feature. Every number comes from the library
// (nl::layer_norm_forward/backward and friends, see norm_cases.h).
//
//   build/bin/backprop_tour                           # 3×4 input from --seed
//   build/bin/backprop_tour --norm layer --input "1,2,3,4; 2,0,-1,5" --jacobian
//
// A one-row --input skips BatchNorm, saying why (a batch of 1 has no variance
// in training mode), and goes on with the other norms. A NaN anywhere in the
// gradients shows as a nan difference, never as agreement.
//
// Writes to --out: gradients.csv (the comparison table), and per norm the
// autograd graphs of the composed and the fused version as .dot (and .png
// when Graphviz's dot is installed). Final line on stdout: JSON with every
// number printed.
#include <CLI/CLI.hpp>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "examples/backprop_tour/norm_cases.h"
#include "examples/common/cli.h"
#include "normlab.h"

namespace {

using nl::Tensor;
using tour::NormCase;

struct Config {
  std::string norm = "all", input, out = "results/backprop_tour";
  uint64_t seed = 0;
  int64_t rows = 3, cols = 4;
  double eps = 1e-5, h = 1e-6;
  bool jacobian = false, detect_anomaly = false;
};

// Fills cfg from the command line; the exit code when there is nothing to run
// (--help, --version, a bad option).
std::optional<int> parse_options(int argc, char** argv, Config& cfg) {
  CLI::App app{"LayerNorm, BatchNorm and RMSNorm forward and backward, step by step, checked three ways"};
  app.add_option("--norm", cfg.norm, "layer, batch, rms, or all")
      ->check(CLI::IsMember({"layer", "batch", "rms", "all"}));
  app.add_option("--input", cfg.input,
                 "the input, rows separated by ';', e.g. \"1,2,3,4; 2,0,-1,5\" (default: random)");
  app.add_option("--rows", cfg.rows, "rows of the random input")->check(CLI::Range(2, 16));
  app.add_option("--cols", cfg.cols, "columns of the random input")->check(CLI::Range(1, 16));
  app.add_option("--seed", cfg.seed, "seed for the random input, gamma, beta and dy");
  app.add_option("--eps", cfg.eps, "eps added to the variance")->check(CLI::Range(0.0, 1.0));
  app.add_option("--h", cfg.h, "step of the central finite differences")->check(CLI::Range(1e-10, 1e-2));
  app.add_flag("--jacobian", cfg.jacobian, "print the Jacobian dy/dx of each norm");
  app.add_option("--out", cfg.out, "directory for gradients.csv and the graphs");
  app.add_flag("--detect-anomaly", cfg.detect_anomaly,
               "name the first op that produces NaN/inf (nl::DetectAnomalyGuard)");
  return examples::parse_command_line(app, argc, argv);
}

// What the Jacobian shows: its nonzero entries, and how many link different
// samples (BatchNorm) or different features (LayerNorm, RMSNorm).
struct Coupling {
  int64_t nonzero = 0, cross_sample = 0, cross_feature = 0;
};

// The size of an autograd graph (nl::summarize_graph).
struct GraphSize {
  int64_t ops = 0, saved_tensors = 0, saved_bytes = 0;
};

// One norm's tour: every number it printed. A norm that cannot run on the
// input has only `skipped`, the reason.
struct NormTour {
  std::string skipped;
  std::vector<double> mean, rstd, xhat, y, dx, dweight, sum_dxhat, sum_dxhat_xhat;
  std::optional<std::vector<double>> dbias;  // not for RMSNorm
  double dx00_by_hand = 0, max_diff_composed = 0, max_diff_finite_differences = 0;
  std::optional<Coupling> jacobian;         // with --jacobian
  std::map<std::string, GraphSize> graphs;  // "composed", "fused"
};

// "1, 2, 3; 4, 5, 6" -> a 2×3 float64 tensor.
Tensor parse_input(const std::string& text) {
  std::vector<double> values;
  int64_t rows = 0, cols = -1;
  std::stringstream row_stream(text);
  for (std::string row; std::getline(row_stream, row, ';');) {
    std::stringstream cell_stream(row);
    int64_t n = 0;
    for (std::string cell; std::getline(cell_stream, cell, ',');) {
      size_t used = 0;
      double v;
      try {
        v = std::stod(cell, &used);
      } catch (const std::exception&) {
        nl::fail("--input: \"{}\" is not a number (rows are separated by ';', values by ',')", cell);
      }
      if (cell.find_first_not_of(" \t", used) != std::string::npos || !std::isfinite(v))
        nl::fail("--input: \"{}\" is not a finite number", cell);
      values.push_back(v);
      ++n;
    }
    if (cols >= 0 && n != cols) nl::fail("--input: row {} has {} values, the first row {}", rows, n, cols);
    cols = n;
    ++rows;
  }
  if (rows < 1 || cols < 1) nl::fail("--input: expected rows of numbers like \"1,2,3; 4,5,6\", got \"{}\"", text);
  if (rows * cols > 256) nl::fail("--input: the tour prints every entry; keep it to 256 values, got {}×{}", rows, cols);
  return nl::from_vector(values, {rows, cols});
}

// ---- printing ---------------------------------------------------------------------------

std::string row_text(const std::vector<double>& v, int64_t begin, int64_t end) {
  std::string out;
  for (int64_t i = begin; i < end; ++i) out += fmt::format("{:9.4f}", v[size_t(i)]);
  return out;
}

void print_matrix(const std::string& label, const Tensor& t) {
  fmt::print("{}\n", label);
  std::vector<double> v = t.to_vector<double>();
  int64_t cols = t.size(-1);
  for (int64_t r = 0; r < t.numel() / cols; ++r) fmt::print("   {}\n", row_text(v, r * cols, (r + 1) * cols));
}

void print_vector(const std::string& label, const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  fmt::print("{:<38}{}\n", label, row_text(v, 0, int64_t(v.size())));
}

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// The larger of a and b, NaN when either is: std::max(0.0, NaN) is 0.0, which
// would report a NaN gradient as perfect agreement.
double max_or_nan(double a, double b) { return std::isnan(a) || std::isnan(b) ? std::nan("") : std::max(a, b); }

// max |a − b| over all entries; NaN when any difference is NaN.
double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> x = values(a), y = values(b);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = max_or_nan(worst, std::abs(x[i] - y[i]));
  return worst;
}

// ---- the three checks -----------------------------------------------------------------

struct Gradients {
  Tensor dx, dw, db;  // db undefined for RMSNorm
};

// Autograd through the composition of primitive ops, for the upstream dy.
Gradients composed_gradients(const NormCase& norm, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy,
                             double eps) {
  Tensor xl = x.clone().requires_grad_(true), wl = w.clone().requires_grad_(true);
  Tensor bl = norm.has_bias ? b.clone().requires_grad_(true) : Tensor();
  norm.composed(xl, wl, bl, eps).backward(dy);
  return {xl.grad(), wl.grad(), norm.has_bias ? bl.grad() : Tensor()};
}

// Central differences of L = Σ dy·y(x, w, b), y the fused op, one entry at a time:
// ∂L/∂θ_i ≈ (L(θ_i + h) − L(θ_i − h)) / 2h.
Gradients numeric_gradients(const NormCase& norm, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy,
                            double eps, double h) {
  nl::NoGradGuard no_grad;
  Tensor xc = x.clone(), wc = w.clone(), bc = b.clone();
  auto loss = [&] { return (norm.fused(xc, wc, norm.has_bias ? bc : Tensor(), eps) * dy).sum().item<double>(); };
  auto differentiate = [&](Tensor& t) {
    Tensor grad = nl::zeros(t.shape(), nl::f64);
    double* p = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      double saved = p[i];
      p[i] = saved + h;
      double plus = loss();
      p[i] = saved - h;
      double minus = loss();
      p[i] = saved;
      grad.data<double>()[i] = (plus - minus) / (2 * h);
    }
    return grad;
  };
  return {differentiate(xc), differentiate(wc), norm.has_bias ? differentiate(bc) : Tensor()};
}

// ---- one norm, start to end -----------------------------------------------------------

struct Inputs {
  Tensor x, weight, bias, dy;
};

std::string index_text(const Tensor& t, int64_t i) {
  return t.dim() == 2 ? fmt::format("[{},{}]", i / t.size(1), i % t.size(1)) : fmt::format("[{}]", i);
}

void print_forward(const NormCase& norm, const Inputs& in, const nl::NormForward& f, const Tensor& xhat, double eps) {
  const char* per = norm.group_dim == "row" ? "per row" : "per column";
  int64_t n = norm.group_size(in.x);
  fmt::print("Forward — one group of statistics is {}, n = {} values:\n", norm.group, n);
  print_matrix("x =", in.x);
  int64_t dim = norm.group_dim == "row" ? 1 : 0;
  if (norm.centers) {
    print_vector(fmt::format("mean = Σx / n ({}):", per), f.mean);
    print_vector("var = Σ(x − mean)² / n (not saved):", in.x.var({dim}, /*unbiased=*/false));
  } else {
    print_vector("mean(x²) = Σx² / n (per row):", (in.x * in.x).mean({dim}));
  }
  print_vector(fmt::format("rstd = 1/√({} + eps):", norm.centers ? "var" : "mean(x²)"), f.rstd);
  fmt::print("   (eps = {}; mean and rstd are what the forward saves for the backward)\n", eps);
  print_matrix(norm.centers ? "xhat = (x − mean) · rstd =" : "xhat = x · rstd =", xhat);
  print_vector("gamma (weight):", in.weight);
  if (norm.has_bias) print_vector("beta (bias):", in.bias);
  print_matrix(norm.has_bias ? "y = xhat · gamma + beta =" : "y = xhat · gamma =", f.y);
}

// Prints the backward terms; returns dx[0] rebuilt by hand from them (a check on the printout).
double print_backward(const NormCase& norm, const Inputs& in, const nl::NormForward& f, const Tensor& xhat,
                      const nl::NormBackward& g) {
  const char* per = norm.group_dim == "row" ? "per row" : "per column";
  const char* over = norm.group_dim == "row" ? "Σ over rows" : "Σ over the batch";
  int64_t n = norm.group_size(in.x);
  fmt::print("\nBackward — upstream gradient dy = ∂loss/∂y (random, fixed seed):\n");
  print_matrix("dy =", in.dy);
  if (norm.has_bias) print_vector(fmt::format("dbeta  = {} of dy:", over), g.dbias);
  print_vector(fmt::format("dgamma = {} of dy·xhat:", over), g.dweight);
  Tensor dxhat = in.dy * in.weight;
  print_matrix("dxhat = dy · gamma =", dxhat);
  if (norm.centers) print_vector(fmt::format("Σdxhat ({}):", per), g.sum_dxhat);
  print_vector(fmt::format("Σdxhat·xhat ({}):", per), g.sum_dxhat_xhat);
  print_matrix(norm.centers ? "dx = rstd/n · (n·dxhat − Σdxhat − xhat·Σdxhat·xhat) ="
                            : "dx = rstd/n · (n·dxhat − xhat·Σdxhat·xhat) =",
               g.dx);
  // the formula for entry [0,0] with the printed numbers put in
  double s = values(f.rstd)[0], d = values(dxhat)[0], xh = values(xhat)[0];
  double sum_d = norm.centers ? values(g.sum_dxhat)[0] : 0.0, sum_dx = values(g.sum_dxhat_xhat)[0];
  double by_hand = s / double(n) * (double(n) * d - sum_d - xh * sum_dx);
  auto num = [](double v) { return v < 0 ? fmt::format("({:.4f})", v) : fmt::format("{:.4f}", v); };
  std::string centering = norm.centers ? fmt::format(" − {}", num(sum_d)) : "";
  fmt::print("   e.g. dx[0,0] = {}/{} · ({}·{}{} − {}·{}) = {:.6f}   (the kernel's: {:.6f})\n", num(s), n, n, num(d),
             centering, num(xh), num(sum_dx), by_hand, values(g.dx)[0]);
  return by_hand;
}

// The comparison table; appends CSV rows; returns the two largest differences.
std::pair<double, double> print_comparison(const NormCase& norm, const Gradients& fused, const Gradients& composed,
                                           const Gradients& numeric, double h, std::vector<std::string>& csv) {
  fmt::print(
      "\nCheck (float64): fused kernel vs autograd through the composed reference vs central differences "
      "(h = {})\n",
      h);
  fmt::print("   {:<12}{:>17}{:>17}{:>17}\n", "gradient", "fused", "composed", "finite diff");
  double worst_composed = 0, worst_numeric = 0;
  auto rows = [&](const char* name, const Tensor& a, const Tensor& b, const Tensor& c) {
    std::vector<double> va = values(a), vb = values(b), vc = values(c);
    for (size_t i = 0; i < va.size(); ++i) {
      std::string label = name + index_text(a, int64_t(i));
      fmt::print("   {:<12}{:>17.10f}{:>17.10f}{:>17.10f}\n", label, va[i], vb[i], vc[i]);
      csv.push_back(fmt::format("{},{},{},{:.17g},{:.17g},{:.17g}", norm.key, name, i, va[i], vb[i], vc[i]));
    }
    worst_composed = max_or_nan(worst_composed, max_abs_diff(a, b));
    worst_numeric = max_or_nan(worst_numeric, max_abs_diff(a, c));
  };
  rows("dx", fused.dx, composed.dx, numeric.dx);
  rows("dgamma", fused.dw, composed.dw, numeric.dw);
  if (fused.db.defined()) rows("dbeta", fused.db, composed.db, numeric.db);
  fmt::print("   max |fused − composed| = {:.1e}    max |fused − finite diff| = {:.1e}\n", worst_composed,
             worst_numeric);
  return {worst_composed, worst_numeric};
}

// ∂y/∂x from the library's backward, one output entry at a time (a one-hot dy per row).
Tensor jacobian(const NormCase& norm, const Inputs& in, const nl::NormForward& f) {
  int64_t m = in.x.numel();
  Tensor J = nl::zeros({m, m}, nl::f64);
  for (int64_t i = 0; i < m; ++i) {
    Tensor onehot = nl::zeros(in.x.shape(), nl::f64);
    onehot.data<double>()[i] = 1.0;
    J.select(0, i).copy_(norm.backward(onehot, in.x, in.weight, f).dx.reshape({m}));
  }
  return J;
}

Coupling print_jacobian(const NormCase& norm, const Tensor& J, const Tensor& x) {
  int64_t m = J.size(0), cols = x.size(1);
  std::vector<double> v = values(J);
  fmt::print("\nJacobian ∂y[i]/∂x[j], from the backward with a one-hot dy per output (· = exactly 0):\n");
  fmt::print("   within a group: ∂y_j/∂x_i = gamma_j · rstd/n · (n·δ_ij{} − xhat_i·xhat_j); across groups: 0\n",
             norm.centers ? " − 1" : "");
  fmt::print("   rows y[sample,feature], columns x[sample,feature]:\n");
  std::string header = "          ";
  for (int64_t j = 0; j < m; ++j) header += fmt::format("{:>8}", index_text(x, j));
  fmt::print("{}\n", header);
  Coupling c;
  for (int64_t i = 0; i < m; ++i) {
    std::string line = fmt::format("{:<10}", "y" + index_text(x, i));
    for (int64_t j = 0; j < m; ++j) {
      double value = v[size_t(i * m + j)];
      line += value == 0.0 ? fmt::format("{:>8}", "·") : fmt::format("{:8.3f}", value);
      if (value != 0.0) {
        ++c.nonzero;
        c.cross_sample += i / cols != j / cols;
        c.cross_feature += i % cols != j % cols;
      }
    }
    fmt::print("{}\n", line);
  }
  fmt::print("   nonzero entries: {}; linking different samples: {}; linking different features: {}\n", c.nonzero,
             c.cross_sample, c.cross_feature);
  fmt::print("   => {}\n", c.cross_sample == 0 ? "each sample's output depends only on that sample (no batch coupling)"
                                               : "a sample's output depends on the other samples of the batch");
  return c;
}

// The autograd graphs of the composed and the fused norm, as .dot (+ .png).
std::map<std::string, GraphSize> write_graphs(const NormCase& norm, const Inputs& in, const Config& cfg) {
  std::map<std::string, GraphSize> sizes;
  Tensor x = in.x.clone().requires_grad_(true), w = in.weight.clone().requires_grad_(true);
  Tensor b = norm.has_bias ? in.bias.clone().requires_grad_(true) : Tensor();
  nl::DotOptions names{.names = {{"x", x}, {"weight", w}, {"bias", b}}};
  bool have_dot = std::system("command -v dot > /dev/null 2>&1") == 0;
  fmt::print("\nAutograd graphs (nl::to_dot):\n");
  for (auto [kind, y] :
       {std::pair{"composed", norm.composed(x, w, b, cfg.eps)}, std::pair{"fused", norm.fused(x, w, b, cfg.eps)}}) {
    names.title = fmt::format("{} {}", kind, norm.title);
    std::string path = fmt::format("{}/{}_{}.dot", cfg.out, norm.key, kind);
    nl::io::write_file_atomically(path, [&](std::FILE* f) { std::fputs(nl::to_dot(y, names).c_str(), f); });
    nl::GraphSummary s = nl::summarize_graph(y);
    std::string png = path.substr(0, path.size() - 4) + ".png";
    bool rendered = have_dot && std::system(("dot -Tpng '" + path + "' -o '" + png + "'").c_str()) == 0;
    fmt::print("   {:<9} {:>2} ops, {} tensors saved for backward ({} bytes): {}\n", kind, s.ops, s.saved_tensors,
               s.saved_bytes, rendered ? png : path);
    sizes[kind] = {s.ops, s.saved_tensors, s.saved_bytes};
  }
  if (!have_dot)
    fmt::print(
        "   (Graphviz's dot not found: install the graphviz package (apt-get install graphviz), then render\n"
        "    with  dot -Tpng FILE.dot -o FILE.png)\n");
  return sizes;
}

NormTour tour_one(const NormCase& norm, const Inputs& in, const Config& cfg, std::vector<std::string>& csv) {
  fmt::print("\n==================== {} — {} ====================\n", norm.title, norm.source);
  nl::NormForward f = norm.forward(in.x, in.weight, in.bias, cfg.eps);
  Tensor xhat = norm.forward(in.x, Tensor(), Tensor(), cfg.eps).y;  // the norm without gamma and beta
  print_forward(norm, in, f, xhat, cfg.eps);
  nl::NormBackward g = norm.backward(in.dy, in.x, in.weight, f);
  double dx00 = print_backward(norm, in, f, xhat, g);

  Gradients fused{g.dx, g.dweight, g.dbias};
  Gradients composed = composed_gradients(norm, in.x, in.weight, in.bias, in.dy, cfg.eps);
  Gradients numeric = numeric_gradients(norm, in.x, in.weight, in.bias, in.dy, cfg.eps, cfg.h);
  auto [diff_composed, diff_numeric] = print_comparison(norm, fused, composed, numeric, cfg.h, csv);

  NormTour tour{.mean = values(f.mean),
                .rstd = values(f.rstd),
                .xhat = values(xhat),
                .y = values(f.y),
                .dx = values(g.dx),
                .dweight = values(g.dweight),
                .sum_dxhat = values(g.sum_dxhat),
                .sum_dxhat_xhat = values(g.sum_dxhat_xhat),
                .dx00_by_hand = dx00,
                .max_diff_composed = diff_composed,
                .max_diff_finite_differences = diff_numeric};
  if (g.dbias.defined()) tour.dbias = values(g.dbias);
  if (cfg.jacobian) tour.jacobian = print_jacobian(norm, jacobian(norm, in, f), in.x);
  tour.graphs = write_graphs(norm, in, cfg);
  return tour;
}

nlohmann::json to_json(const NormTour& t) {
  if (!t.skipped.empty()) return {{"skipped", t.skipped}};
  nlohmann::json j = {{"mean", t.mean},
                      {"rstd", t.rstd},
                      {"xhat", t.xhat},
                      {"y", t.y},
                      {"dx", t.dx},
                      {"dweight", t.dweight},
                      {"sum_dxhat", t.sum_dxhat},
                      {"sum_dxhat_xhat", t.sum_dxhat_xhat},
                      {"dx00_by_hand", t.dx00_by_hand},
                      {"max_diff_composed", t.max_diff_composed},
                      {"max_diff_finite_differences", t.max_diff_finite_differences}};
  if (t.dbias) j["dbias"] = *t.dbias;
  if (t.jacobian)
    j["jacobian"] = {{"nonzero", t.jacobian->nonzero},
                     {"cross_sample", t.jacobian->cross_sample},
                     {"cross_feature", t.jacobian->cross_feature}};
  for (const auto& [kind, size] : t.graphs)
    j["graphs"][kind] = {{"ops", size.ops}, {"saved_tensors", size.saved_tensors}, {"saved_bytes", size.saved_bytes}};
  return j;
}

// The input x (--input, or random from --seed), gamma, beta and the upstream gradient dy.
Inputs make_inputs(const Config& cfg) {
  nl::manual_seed(cfg.seed);
  Inputs in;
  in.x = cfg.input.empty() ? nl::randn({cfg.rows, cfg.cols}, nl::f64) : parse_input(cfg.input);
  int64_t cols = in.x.size(1);
  in.weight = nl::rand({cols}, nl::f64, 0.5, 1.5);
  in.bias = nl::randn({cols}, nl::f64);
  in.dy = nl::randn(in.x.shape(), nl::f64);
  return in;
}

// The tour of each norm asked for, in order; appends the comparison rows to csv.
std::vector<std::pair<std::string, NormTour>> run_tour(const Config& cfg, const Inputs& in,
                                                       std::vector<std::string>& csv) {
  fmt::print(
      "backprop_tour: input {} (float64), gamma, beta and the upstream gradient dy drawn with seed {}.\n"
      "Values come from the library: the fused kernels' forward and backward (mean, rstd, y, the sums, dx,\n"
      "dgamma, dbeta) and its ops (var, dxhat); only the 'e.g.' lines are arithmetic done here.\n"
      "The derivation: docs/normalization.md.\n",
      in.x.shape(), cfg.seed);
  std::vector<std::pair<std::string, NormTour>> tours;
  for (const NormCase& norm : tour::norm_cases()) {
    if (cfg.norm != "all" && cfg.norm != norm.key) continue;
    fmt::print(stderr, "[backprop_tour] {}\n", norm.title);
    if (std::string why = norm.cannot_run(in.x); !why.empty()) {  // say why, and go on with the next norm
      fmt::print("\n==================== {} — skipped ====================\n{}\n", norm.title, why);
      tours.emplace_back(norm.key, NormTour{.skipped = why});
      continue;
    }
    tours.emplace_back(norm.key, tour_one(norm, in, cfg, csv));
  }
  return tours;
}

// The final JSON line: the inputs and every number of every norm's tour.
nlohmann::json to_json(const Config& cfg, const Inputs& in,
                       const std::vector<std::pair<std::string, NormTour>>& tours) {
  nlohmann::json summary = {{"seed", cfg.seed},
                            {"eps", cfg.eps},
                            {"h", cfg.h},
                            {"shape", in.x.shape().vec()},
                            {"input", values(in.x)},
                            {"weight", values(in.weight)},
                            {"bias", values(in.bias)},
                            {"dy", values(in.dy)}};
  for (const auto& [key, t] : tours) summary["norms"][key] = to_json(t);
  return summary;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  if (std::optional<int> exit_code = parse_options(argc, argv, cfg)) return *exit_code;
  return examples::run_or_report_error(cfg.detect_anomaly, [&] {
    nl::io::create_directories(cfg.out);
    Inputs in = make_inputs(cfg);
    std::vector<std::string> csv;
    auto tours = run_tour(cfg, in, csv);
    std::string csv_path = cfg.out + "/gradients.csv";
    nl::train::write_csv(csv_path, "norm,gradient,index,fused,composed,finite_difference", csv);
    fmt::print("\nComparison table: {}\n", csv_path);
    fmt::print("{}\n", to_json(cfg, in, tours).dump());
  });
}

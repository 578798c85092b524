#include "examples/transformer_norm/init_gradients.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "examples/common/report.h"
#include "examples/common/stats.h"
#include "examples/common/table.h"

namespace transformer_norm {

namespace {

const char* const kPlacements[] = {"post", "pre"};
const char* const kInits[] = {"xavier", "gpt2"};

// The paper's initialization: every matrix of the blocks and the head
// Xavier-uniform, biases 0; embeddings and LayerNorms as built.
void xavier_init(nl::models::GPT& model) {
  nl::NoGradGuard no_grad;
  for (auto& [name, p] : model.named_parameters()) {
    if (name.find("norm") != std::string::npos || name.find("embedding") != std::string::npos) continue;
    if (p.dim() == 2)
      nl::layers::init::xavier_uniform_(p);
    else
      p.zero_();
  }
}

// ‖∂loss/∂W2_l‖_F of every block l of a new model, and its loss, averaged over o.batches batches.
struct Probe {
  std::vector<double> norms;
  double loss = 0;
};
Probe last_ffn_gradient_norms(nl::models::GPTConfig config, const nl::data::TextCorpus& corpus,
                              const InitGradientOptions& o, bool xavier) {
  nl::models::GPT model(config);
  if (xavier) xavier_init(model);
  Probe probe{std::vector<double>(size_t(config.num_layers), 0.0)};
  for (int64_t b = 0; b < o.batches; ++b) {
    auto [x, y] = corpus.batch(corpus.train(), o.batch_size, o.seq_len);
    model.zero_grad();
    nl::Tensor loss = nl::cross_entropy(model(x).reshape({-1, corpus.vocab_size()}), y.reshape({-1}));
    loss.backward();
    probe.loss += loss.item<double>() / double(o.batches);
    for (int64_t l = 0; l < config.num_layers; ++l) {
      nl::Tensor g = (*model.blocks)[size_t(l)]->linear2->weight.grad();
      probe.norms[size_t(l)] += std::sqrt((g * g).sum().item<double>()) / double(o.batches);
    }
  }
  return probe;
}

// The least-squares slope of log(y) against log(x).
double log_log_slope(const std::vector<double>& x, const std::vector<double>& y) {
  double mx = 0, my = 0, sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i)
    mx += std::log(x[i]) / double(x.size()), my += std::log(y[i]) / double(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (std::log(x[i]) - mx) * (std::log(y[i]) - my);
    sxx += (std::log(x[i]) - mx) * (std::log(x[i]) - mx);
  }
  return sxx > 0 ? sxy / sxx : NAN;
}

// by_model: "post/xavier" -> depth -> the blocks' norms (means over seeds).
using ByModel = std::map<std::string, std::map<int64_t, std::vector<double>>>;

// Two rows of panels, one per init: Post-LN's and Pre-LN's norms per block,
// one line per depth, then the last block's norm against depth (from a
// datablock: in the CSV those rows are not adjacent, and a filtered plot would
// not join them).
std::string plot_script(const std::string& out, const ByModel& by_model) {
  std::string depth_list, blocks;
  for (const auto& [depth, norms] : by_model.begin()->second)
    depth_list += fmt::format("{}{}", depth_list.empty() ? "" : " ", depth);
  for (const char* init : kInits) {
    blocks += fmt::format("$last_{} << EOD\n", init);
    for (const auto& [depth, norms] : by_model.at(std::string("post/") + init))
      blocks += fmt::format("{} {:.6e} {:.6e}\n", depth, norms.back(),
                            by_model.at(std::string("pre/") + init).at(depth).back());
    blocks += "EOD\n";
  }
  std::string s = fmt::format(
      "set terminal pngcairo size 1500,900 font ',10'\nset output {}\n{}set datafile separator ','\n"
      "set logscale y\nset grid\nset key outside right\ndepths = '{}'\n"
      "set multiplot layout 2,3 title {}\n",
      nl::train::gnuplot::quote(out + "/init_gradients.png"), blocks, depth_list,
      nl::train::gnuplot::quote("Gradient norm of each block's last FFN weight at initialization (Xiong et al. 2020, "
                                "Fig. 3); mean over seeds"));
  const std::string csv = nl::train::gnuplot::quote(out + "/init_gradients.csv");
  for (const char* init : kInits) {
    for (const char* placement : kPlacements)
      s += fmt::format(
          "set title '{}-LN, {} init'\nset xlabel 'block l (1 = nearest the input)'\nset ylabel '||dloss/dW2_l||_F'\n"
          "plot for [d in depths] {} using (strcol(1) eq '{}' && strcol(2) eq '{}' && $3 == d ? $4 : 1/0):5 "
          "with linespoints title 'L = '.d\n",
          placement, init, csv, placement, init);
    s += fmt::format(
        "set title 'the last block against depth, {} init'\nset xlabel 'depth L'\nset logscale x 2\n"
        "set datafile separator whitespace\n"
        "plot $last_{} using 1:2 with linespoints title 'post-LN', '' using 1:3 with linespoints title 'pre-LN'\n"
        "set datafile separator ','\nunset logscale x\n",
        init, init);
  }
  return s + "unset multiplot\n";
}

}  // namespace

std::vector<InitGradientRow> measure_init_gradients(const nl::models::GPTConfig& model,
                                                    const nl::data::TextCorpus& corpus, const InitGradientOptions& o) {
  std::vector<InitGradientRow> rows;
  nl::train::Progress progress("init-gradients", int64_t(std::size(kPlacements) * std::size(kInits) * o.depths.size()));
  int64_t done = 0;
  for (const char* placement : kPlacements)
    for (const char* init : kInits)
      for (int64_t depth : o.depths) {
        nl::models::GPTConfig config = model;
        config.vocab_size = corpus.vocab_size();
        config.block_size = o.seq_len;
        config.num_layers = depth;
        config.norm = nl::models::parse_norm_placement(placement);
        std::vector<std::vector<double>> per_layer(static_cast<size_t>(depth));  // [layer][seed]
        double loss = 0;  // the loss at initialization, for the progress line
        for (int64_t s = 0; s < o.seeds; ++s) {
          nl::manual_seed(o.seed + uint64_t(s));
          Probe probe = last_ffn_gradient_norms(config, corpus, o, std::string(init) == "xavier");
          for (size_t l = 0; l < probe.norms.size(); ++l) per_layer[l].push_back(probe.norms[l]);
          loss += probe.loss / double(o.seeds);
        }
        for (int64_t l = 0; l < depth; ++l) {
          examples::Spread sp = examples::spread_of(per_layer[size_t(l)]);
          rows.push_back({placement, init, depth, l + 1, sp.mean, sp.std});
        }
        progress.update(++done, loss);
      }
  progress.finish();
  return rows;
}

nlohmann::json report_init_gradients(const std::string& out, const std::vector<InitGradientRow>& rows) {
  nl::io::create_directories(out);
  std::vector<std::string> csv;
  ByModel by_model;
  for (const InitGradientRow& r : rows) {
    csv.push_back(fmt::format("{},{},{},{},{:.6e},{:.6e}", r.placement, r.init, r.depth, r.layer, r.mean, r.stddev));
    by_model[r.placement + "/" + r.init][r.depth].push_back(r.mean);
  }
  nl::train::write_csv(out + "/init_gradients.csv", "placement,init,depth,layer,grad_norm_mean,grad_norm_std", csv);

  examples::Table table({"model", "depth", "first block", "last block", "last / first", "max / min"});
  nlohmann::json claims = nlohmann::json::object();
  for (const char* init : kInits) {
    std::vector<bool> grows, flat;
    std::map<std::string, double> slope;
    for (const char* placement : kPlacements) {
      std::vector<double> depths, last;
      for (const auto& [depth, norms] : by_model[std::string(placement) + "/" + init]) {
        const double first = norms.front(), end = norms.back();
        const double ratio =
            *std::max_element(norms.begin(), norms.end()) / *std::min_element(norms.begin(), norms.end());
        table.add_row({fmt::format("{}-LN, {}", placement, init), std::to_string(depth), fmt::format("{:.4f}", first),
                       fmt::format("{:.4f}", end), fmt::format("{:.2f}", end / first), fmt::format("{:.2f}", ratio)});
        if (std::string(placement) == "post") grows.push_back(end / first > 1);
        if (std::string(placement) == "pre") flat.push_back(ratio < kFlat);
        depths.push_back(double(depth));
        last.push_back(end);
      }
      slope[placement] = log_log_slope(depths, last);
    }
    claims[init] = {
        {"post_grows_toward_output", examples::verdict(grows)},
        {"pre_flat", examples::verdict(flat)},
        {"last_block_slope_post", slope["post"]},
        {"last_block_slope_pre", slope["pre"]},
        {"last_block_depth_scaling", examples::verdict({std::abs(slope["pre"] + 0.5) <= kSlopeTolerance,
                                                        std::abs(slope["post"]) <= kSlopeTolerance})},
    };
  }
  const bool plotted = nl::train::gnuplot::render(out + "/init_gradients.gp", plot_script(out, by_model));

  fmt::print("\n{}", table.text());
  for (const char* init : kInits) {
    const nlohmann::json& c = claims[init];
    fmt::print(
        "\n{} init:\n  1. Post-LN's gradient grows toward the output (last/first > 1 at every depth): {}\n"
        "  2. Pre-LN's is flat (max/min < {} at every depth): {}\n"
        "  3. the last block's against depth, log-log slope: Pre-LN {:.2f} (theory −0.5), Post-LN {:.2f} (theory 0): "
        "{}\n",
        init, c["post_grows_toward_output"].get<std::string>(), kFlat, c["pre_flat"].get<std::string>(),
        c["last_block_slope_pre"].get<double>(), c["last_block_slope_post"].get<double>(),
        c["last_block_depth_scaling"].get<std::string>());
  }
  fmt::print("\nwrote {}/init_gradients.csv, init_gradients.json{}\n", out, plotted ? ", init_gradients.png" : "");
  nlohmann::json rows_json = nlohmann::json::array();
  for (const InitGradientRow& r : rows)
    rows_json.push_back({{"placement", r.placement},
                         {"init", r.init},
                         {"depth", r.depth},
                         {"layer", r.layer},
                         {"grad_norm_mean", r.mean},
                         {"grad_norm_std", r.stddev}});
  nl::train::write_json(out + "/init_gradients.json", {{"claims", claims}, {"rows", rows_json}});
  return {{"program", "transformer_norm"},
          {"probe", "init_gradients"},
          {"claims", claims},
          {"rows", out + "/init_gradients.csv"},
          {"plot", plotted ? out + "/init_gradients.png" : ""}};
}

}  // namespace transformer_norm

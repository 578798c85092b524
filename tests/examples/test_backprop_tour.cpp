// backprop_tour: its numbers are the library's (recomputed here with the same
// functions from the inputs it reports), the three gradients agree, the
// Jacobian shows who couples what, and the graphs and CSV are written; a
// one-row input skips BatchNorm with the reason, a NaN shows as nan, and a
// missing Graphviz is named with its package.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "normlab.h"
#include "tests/examples/example_test_helpers.h"

namespace {
nl::Tensor tensor_of(const nlohmann::json& values, const nl::Shape& shape) {
  return nl::from_vector(values.get<std::vector<double>>(), shape);
}
// Runs the tour with args, writing into a fresh directory; returns the final JSON line.
nlohmann::json run_tour(const std::string& args, const std::filesystem::path& dir) {
  auto run = nl_test::run_example("backprop_tour", args + " --out " + dir.string() + " 2>/dev/null");
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("Σdxhat·xhat") && Catch::Contains("e.g. dx[0,0]") &&
                          Catch::Contains("max |fused − composed|"));
  return nl_test::last_json_line(run.out);
}
void require_same(const nlohmann::json& printed, const nl::Tensor& library, const std::string& what) {
  INFO(what);
  REQUIRE(printed.get<std::vector<double>>() == library.to_vector<double>());  // exactly: the same code ran
}
}  // namespace

TEST_CASE("backprop_tour: every number it prints is what the library computes", "[examples][backprop_tour]") {
  auto dir = nl_test::fresh_dir("backprop_tour");
  auto j = run_tour("--input '1,2,3,4; 2,0,-1,5; 0.5,0.5,-3,1' --seed 3 --jacobian", dir);
  nl::Tensor x = tensor_of(j["input"], {3, 4});
  CHECK(x.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 2, 0, -1, 5, 0.5, 0.5, -3, 1});
  nl::Tensor w = tensor_of(j["weight"], {4}), b = tensor_of(j["bias"], {4}), dy = tensor_of(j["dy"], {3, 4});
  double eps = j["eps"];

  nl::NormForward ln = nl::layer_norm_forward(x, {4}, w, b, eps);
  nl::NormBackward lg = nl::layer_norm_backward(dy, x, {4}, w, ln.mean, ln.rstd, {.sums = true});
  const auto& layer = j["norms"]["layer"];
  require_same(layer["mean"], ln.mean, "layer mean");
  require_same(layer["rstd"], ln.rstd, "layer rstd");
  require_same(layer["y"], ln.y, "layer y");
  require_same(layer["xhat"], nl::layer_norm_forward(x, {4}, {}, {}, eps).y, "layer xhat");
  require_same(layer["dx"], lg.dx, "layer dx");
  require_same(layer["dweight"], lg.dweight, "layer dgamma");
  require_same(layer["dbias"], lg.dbias, "layer dbeta");
  require_same(layer["sum_dxhat"], lg.sum_dxhat, "layer sum_dxhat");
  require_same(layer["sum_dxhat_xhat"], lg.sum_dxhat_xhat, "layer sum_dxhat_xhat");
  CHECK(layer["dx00_by_hand"].get<double>() == Approx(lg.dx.to_vector<double>()[0]).epsilon(1e-12));

  nl::NormForward bn = nl::batch_norm_forward(x, {}, {}, w, b, true, 0.1, eps);
  nl::NormBackward bg = nl::batch_norm_backward(dy, x, w, bn.mean, bn.rstd, true, {.sums = true});
  const auto& batch = j["norms"]["batch"];
  require_same(batch["mean"], bn.mean, "batch mean");
  require_same(batch["rstd"], bn.rstd, "batch rstd");
  require_same(batch["y"], bn.y, "batch y");
  require_same(batch["dx"], bg.dx, "batch dx");
  require_same(batch["sum_dxhat_xhat"], bg.sum_dxhat_xhat, "batch sum_dxhat_xhat");

  nl::NormForward rn = nl::rms_norm_forward(x, {4}, w, eps);
  nl::NormBackward rg = nl::rms_norm_backward(dy, x, {4}, w, rn.rstd, {.sums = true});
  const auto& rms = j["norms"]["rms"];
  require_same(rms["rstd"], rn.rstd, "rms rstd");
  require_same(rms["dx"], rg.dx, "rms dx");
  require_same(rms["dweight"], rg.dweight, "rms dgamma");
  CHECK(!rms.contains("dbias"));

  for (const char* norm : {"layer", "batch", "rms"}) {
    INFO(norm);
    const auto& r = j["norms"][norm];
    CHECK(r["max_diff_composed"].get<double>() < 1e-12);
    CHECK(r["max_diff_finite_differences"].get<double>() < 1e-7);
    CHECK(r["graphs"]["fused"]["ops"] == 1);
    CHECK(r["graphs"]["composed"]["ops"].get<int>() > 1);
    CHECK(std::filesystem::exists(dir / (std::string(norm) + "_composed.dot")));
    CHECK(std::filesystem::exists(dir / (std::string(norm) + "_fused.dot")));
  }
  // LayerNorm and RMSNorm couple the features of one sample; BatchNorm the samples of one feature
  CHECK(j["norms"]["layer"]["jacobian"]["cross_sample"] == 0);
  CHECK(j["norms"]["layer"]["jacobian"]["cross_feature"].get<int>() > 0);
  CHECK(j["norms"]["rms"]["jacobian"]["cross_sample"] == 0);
  CHECK(j["norms"]["batch"]["jacobian"]["cross_feature"] == 0);
  CHECK(j["norms"]["batch"]["jacobian"]["cross_sample"].get<int>() > 0);

  // the table: 12 dx + 4 dgamma + 4 dbeta rows for LN and BN, no dbeta for RMSNorm
  std::ifstream csv(dir / "gradients.csv");
  std::string line;
  int rows = -1;
  while (std::getline(csv, line)) ++rows;
  CHECK(rows == 20 + 20 + 16);
}

TEST_CASE("backprop_tour: one norm, a random input, and bad input", "[examples][backprop_tour]") {
  auto dir = nl_test::fresh_dir("backprop_tour_one");
  auto j = run_tour("--norm batch --rows 2 --cols 3 --detect-anomaly", dir);
  CHECK(j["shape"] == std::vector<int64_t>{2, 3});
  CHECK(j["norms"].size() == 1);
  CHECK(!j["norms"]["batch"].contains("jacobian"));
  CHECK(nl_test::run_example("backprop_tour", "--input '1,2;3' --out " + dir.string() + " 2>/dev/null").exit_code == 1);
  CHECK(nl_test::run_example("backprop_tour", "--input '1,abc' --out " + dir.string() + " 2>/dev/null").exit_code == 1);
}

TEST_CASE("backprop_tour: a one-row input skips BatchNorm, says why, and goes on with RMSNorm",
          "[examples][backprop_tour]") {
  auto dir = nl_test::fresh_dir("backprop_tour_one_row");
  auto run = nl_test::run_example("backprop_tour", "--input '1,2,3' --out " + dir.string() + " 2>/dev/null");
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("BatchNorm (training mode) — skipped") && Catch::Contains("variance is 0") &&
                          Catch::Contains("Expected more") && Catch::Contains("RMSNorm — "));
  CHECK(run.out.find("RMSNorm — ") > run.out.find("BatchNorm (training mode) — skipped"));
  auto j = nl_test::last_json_line(run.out);
  CHECK(j["norms"]["batch"]["skipped"].get<std::string>().find("the input has 1 row") == 0);
  CHECK(!j["norms"]["batch"].contains("dx"));
  for (const char* norm : {"layer", "rms"}) {
    INFO(norm);
    CHECK(j["norms"][norm]["dx"].size() == 3);
    CHECK(j["norms"][norm]["max_diff_finite_differences"].get<double>() < 1e-7);
  }
  std::ifstream csv(dir / "gradients.csv");
  int rows = -1;
  for (std::string line; std::getline(csv, line);) ++rows;
  CHECK(rows == 9 + 6);  // LayerNorm: 3 dx, 3 dgamma, 3 dbeta; RMSNorm: no dbeta
}

TEST_CASE("backprop_tour: a NaN gradient shows as a nan difference, never as agreement", "[examples][backprop_tour]") {
  auto dir = nl_test::fresh_dir("backprop_tour_nan");
  // eps 0 and a constant row: var = 0, rstd = inf, xhat = 0·inf = NaN in every version
  auto run = nl_test::run_example("backprop_tour",
                                  "--norm layer --eps 0 --input '1,1,1; 2,3,4' --out " + dir.string() + " 2>/dev/null");
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out,
             Catch::Contains("max |fused − composed| = nan") && Catch::Contains("max |fused − finite diff| = nan"));
  auto j = nl_test::last_json_line(run.out);
  CHECK(j["norms"]["layer"]["max_diff_composed"].is_null());  // JSON writes NaN as null, never 0
  CHECK(j["norms"]["layer"]["max_diff_finite_differences"].is_null());
}

TEST_CASE("backprop_tour: without Graphviz the .dot files are written and the package is named",
          "[examples][backprop_tour]") {
  auto dir = nl_test::fresh_dir("backprop_tour_no_dot");
  // an empty PATH hides dot from the program (it runs `command -v dot`)
  auto run = nl_test::run_command("PATH=/nonexistent " + std::string(NORMLAB_BIN_DIR) +
                                  "/backprop_tour --norm rms --rows 2 --cols 2 --out " + dir.string() + " 2>/dev/null");
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("Graphviz's dot not found") && Catch::Contains("apt-get install graphviz"));
  CHECK(std::filesystem::exists(dir / "rms_fused.dot"));
  CHECK(!std::filesystem::exists(dir / "rms_fused.png"));
}

// transformer_norm runs end to end: --compare trains post/pre/none with and
// without warmup; a run at an absurd learning rate is reported as diverged;
// --init-gradients gives the gradient norms a model built here gives.
#include <cmath>
#include <fstream>

#include "tests/examples/example_test_helpers.h"

namespace {
std::string small_corpus(const std::filesystem::path& dir) {
  return nl_test::small_corpus(dir, "pack my box with five dozen liquor jugs ", 5);
}
const char* kTiny =
    " --eval-every 2 --eval-batches 1 --batch-size 4 --seq-len 8 --d-model 8 --heads 2 --layers 1 --sample-length 10";
}  // namespace

TEST_CASE("transformer_norm --compare: six runs, CSV and JSON", "[examples][transformer_norm]") {
  auto dir = nl_test::fresh_dir("transformer_norm");
  auto run = nl_test::run_example("transformer_norm", std::string("--compare --steps 4 --warmup 2") + kTiny +
                                                          " --corpus " + small_corpus(dir) + " --out " + dir.string());
  REQUIRE(run.exit_code == 0);
  auto j = nl_test::last_json_line(run.out);
  REQUIRE(j["runs"].size() == 6);
  std::vector<std::string> labels;
  for (auto& r : j["runs"]) labels.push_back(r["label"]);
  CHECK(labels == std::vector<std::string>{"post-warmup0", "post-warmup2", "pre-warmup0", "pre-warmup2", "none-warmup0",
                                           "none-warmup2"});
  CHECK(std::filesystem::exists(dir / "eval.csv"));
  CHECK(std::filesystem::exists(dir / "val_loss.gp"));
}

TEST_CASE("transformer_norm: a diverging run is reported as diverged, not a crash", "[examples][transformer_norm]") {
  auto dir = nl_test::fresh_dir("transformer_norm_diverge");
  auto run = nl_test::run_example("transformer_norm", std::string("--norm none --steps 30 --lr 1e6 --clip 0") + kTiny +
                                                          " --corpus " + small_corpus(dir) + " --out " + dir.string());
  REQUIRE(run.exit_code == 0);
  auto j = nl_test::last_json_line(run.out);
  CHECK(j["diverged"] == true);
  CHECK(j["val_loss"].is_null());
  CHECK(run.out.find("diverged at step") != std::string::npos);
}

TEST_CASE("transformer_norm --detect-anomaly: the diverging run names the op that made the first NaN or inf",
          "[examples][transformer_norm]") {
  auto dir = nl_test::fresh_dir("transformer_norm_anomaly");
  auto run = nl_test::run_example("transformer_norm",
                                  std::string("--norm none --steps 30 --lr 1e6 --clip 0 --detect-anomaly") + kTiny +
                                      " --corpus " + small_corpus(dir) + " --out " + dir.string() + " 2>&1");
  CHECK(run.exit_code == 1);
  CHECK(run.out.find("error: ") != std::string::npos);
  CHECK(run.out.find("anomaly detected: the forward of") != std::string::npos);
}

TEST_CASE("transformer_norm --compare runs at the high learning rate unless --lr is given",
          "[examples][transformer_norm]") {
  auto dir = nl_test::fresh_dir("transformer_norm_compare_lr");
  std::string args =
      std::string("--compare --steps 2") + kTiny + " --corpus " + small_corpus(dir) + " --out " + dir.string();
  auto high = nl_test::run_example("transformer_norm", args);
  auto given = nl_test::run_example("transformer_norm", args + " --lr 2e-4");
  REQUIRE(high.exit_code == 0);
  REQUIRE(given.exit_code == 0);
  CHECK(nl_test::last_json_line(high.out)["lr"].get<double>() == Approx(1e-2));
  CHECK(nl_test::last_json_line(given.out)["lr"].get<double>() == Approx(2e-4));
  auto help = nl_test::run_example("transformer_norm", "--help");
  CHECK(help.out.find("=0.001") != std::string::npos);  // --lr outside --compare
  CHECK(help.out.find("with --compare and no --lr: 0.01") != std::string::npos);
}

TEST_CASE("transformer_norm --top-k 1: greedy sample, the same at any temperature", "[examples][transformer_norm]") {
  auto dir = nl_test::fresh_dir("transformer_norm_top_k");
  std::string args =
      std::string("--norm pre --steps 2") + kTiny + " --corpus " + small_corpus(dir) + " --out " + dir.string();
  nl_test::require_greedy_sample("transformer_norm", args);
}

TEST_CASE("transformer_norm --init-gradients: every block's last FFN gradient norm, as recomputed from the model",
          "[examples][transformer_norm]") {
  auto dir = nl_test::fresh_dir("transformer_norm_init_gradients");
  std::string corpus = small_corpus(dir);
  auto run = nl_test::run_example("transformer_norm",
                                  "--init-gradients --depths 1,2 --seeds 2 --probe-batches 1 --d-model 8 --heads 2 "
                                  "--batch-size 2 --seq-len 8 --threads 1 --corpus " +
                                      corpus + " --out " + dir.string());
  REQUIRE(run.exit_code == 0);
  auto j = nl_test::last_json_line(run.out);
  for (const char* init : {"xavier", "gpt2"})
    for (const char* claim : {"post_grows_toward_output", "pre_flat", "last_block_depth_scaling"})
      CHECK(j["claims"][init][claim].is_string());
  CHECK(run.out.find("Post-LN's gradient grows toward the output") != std::string::npos);
  auto rows = nlohmann::json::parse(nl_test::read_file(dir / "init_gradients.json"))["rows"];
  REQUIRE(rows.size() == 2 * 2 * (1 + 2));  // post, pre × xavier, gpt2 × the blocks of depths 1 and 2
  CHECK(std::filesystem::exists(dir / "init_gradients.csv"));
  CHECK(std::filesystem::exists(dir / "init_gradients.gp"));

  // Post-LN, GPT-2 init, depth 2: each seed's model on one batch, by hand
  nl::set_num_threads(1);
  nl::data::TextCorpus text = nl::data::TextCorpus::from_path(corpus);
  double expected[2] = {0, 0};
  for (uint64_t seed : {0, 1}) {
    nl::manual_seed(seed);
    nl::models::GPTConfig config{.vocab_size = text.vocab_size(),
                                 .block_size = 8,
                                 .d_model = 8,
                                 .num_heads = 2,
                                 .num_layers = 2,
                                 .norm = nl::layers::NormPlacement::post};
    nl::models::GPT model(config);
    auto [x, y] = text.batch(text.train(), 2, 8);
    nl::cross_entropy(model(x).reshape({-1, text.vocab_size()}), y.reshape({-1})).backward();
    for (size_t l = 0; l < 2; ++l) {
      nl::Tensor g = (*model.blocks)[l]->linear2->weight.grad();
      expected[l] += std::sqrt((g * g).sum().item<double>()) / 2;
    }
  }
  int found = 0;
  for (auto& r : rows)
    if (r["placement"] == "post" && r["init"] == "gpt2" && r["depth"] == 2) {
      INFO("block " << r["layer"]);
      CHECK(r["grad_norm_mean"].get<double>() == Approx(expected[r["layer"].get<int>() - 1]).epsilon(1e-6));
      ++found;
    }
  CHECK(found == 2);
}

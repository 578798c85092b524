// normlab-grade (grade/): every reference solution passes; every stub fails
// cleanly; the committed stubs are the stripped solutions; typical wrong
// answers (tests/grade/wrong/) fail with the right diagnosis; a syntax error
// is reported as a compile error and an out-of-bounds write as a crash.
// Runs the built binary, NORMLAB_BIN_DIR/normlab-grade.
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kSource = fs::path(NORMLAB_FIXTURES_DIR).parent_path().parent_path();  // tests/fixtures -> root

struct Run {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

Run grade(const std::string& args) {
  const std::string command = std::string(NORMLAB_BIN_DIR) + "/normlab-grade " + args + " 2>&1";
  Run run;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string path(const std::string& relative) { return (kSource / relative).string(); }

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

const char* const kExercises[] = {"layernorm",  "batchnorm", "rmsnorm",   "groupnorm",
                                  "softmax_ce", "adam",      "attention", "lnlstm"};

// Whether a DIAGNOSIS line of out contains text.
bool has_diagnosis(const std::string& out, const std::string& text) {
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    if (line.find("DIAGNOSIS: ") != std::string::npos && line.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("normlab-grade: every reference solution passes every check", "[grade]") {
  for (const char* exercise : kExercises) {
    INFO(exercise);
    const Run run = grade(std::string(exercise) + " " + path(std::string("exercises/solutions/") + exercise + ".cpp"));
    INFO(run.out);
    CHECK(run.exit_code == 0);
    CHECK(count(run.out, "FAIL") == 0);
    CHECK(count(run.out, "PASS") >= 16);  // six cases, two or more checks each
    CHECK(run.out.find("all correct") != std::string::npos);
    // each check compares against the library, and a gradient also against central differences
    if (std::string(exercise) != "adam") CHECK(run.out.find("vs central differences") != std::string::npos);
  }
}

TEST_CASE("normlab-grade: every stub fails cleanly, saying the TODO is not done", "[grade]") {
  for (const char* exercise : kExercises) {
    INFO(exercise);
    const Run run = grade(std::string(exercise) + " " + path(std::string("exercises/") + exercise + ".cpp"));
    INFO(run.out);
    CHECK(run.exit_code == 1);  // checks failed: not a compile error (2) or a crash (3)
    CHECK(count(run.out, "PASS") == 0);
    // outputs are filled with NaN (adam's are its state, updated in place: a stub leaves them as they were)
    if (std::string(exercise) != "adam")
      CHECK(has_diagnosis(run.out, "still hold the NaN the grader filled them with: never written"));
    CHECK(run.out.find(std::string(exercise) + ": 0 of ") != std::string::npos);
  }
}

TEST_CASE("normlab-grade --stub: the committed stubs are the stripped reference solutions", "[grade]") {
  for (const char* exercise : kExercises) {
    INFO(exercise << ": run scripts/make_stubs.sh after editing exercises/solutions/");
    const Run run = grade(std::string("--stub ") + path(std::string("exercises/solutions/") + exercise + ".cpp"));
    REQUIRE(run.exit_code == 0);
    std::ifstream in(path(std::string("exercises/") + exercise + ".cpp"));
    std::stringstream stub;
    stub << in.rdbuf();
    CHECK(run.out == stub.str());
    CHECK(run.out.find("// TODO") != std::string::npos);
    CHECK(run.out.find("SOLUTION") == std::string::npos);
  }
}

namespace {

// Each typical wrong answer in tests/grade/wrong/EXERCISE_*.cpp fails, and
// one of its DIAGNOSIS lines says what is wrong.
void check_wrong_answers(const std::string& exercise) {
  struct Wrong {
    const char* file;
    const char* diagnosis;
  };
  const std::vector<std::pair<std::string, std::vector<Wrong>>> wrongs = {
      {"layernorm",
       {{"layernorm_no_sum_term", "dx rows do not sum to zero: the Σ dxhat term is missing"},
        {"layernorm_no_xhat_term", "the x̂·mean(dxhat·x̂) term is missing"},
        {"layernorm_unbiased_var", "unbiased variance used to normalize"},
        {"layernorm_eps_outside", "eps is outside the square root"},
        {"layernorm_not_zeroed", "or accumulated with += without being set to zero first"}}},
      {"batchnorm",
       {{"batchnorm_eval_batch_stats", "batch statistics used in eval"},
        {"batchnorm_eval_batch_mean", "batch statistics used in eval"},
        {"batchnorm_no_sum_term", "the Σ dxhat term is missing"},
        {"batchnorm_unbiased_var", "unbiased variance used to normalize"},
        {"batchnorm_biased_running_var", "running_var updated with the biased variance"}}},
      {"rmsnorm",
       {{"rmsnorm_no_xhat_term", "the x̂·mean(dxhat·x̂) term is missing"},
        {"rmsnorm_mean_subtracted", "RMSNorm does not subtract a mean"},
        {"rmsnorm_dgamma_from_x", "it uses x where it should use xhat"}}},
      {"groupnorm",
       {{"groupnorm_no_sum_term", "the Σ dxhat term is missing"},
        {"groupnorm_count_without_L", "a group holds M = C/G · L values"}}},
      {"softmax_ce",
       {{"softmax_ce_no_max_shift", "subtract the row's max from every logit before exp"},
        {"softmax_ce_no_mean", "the loss is the mean over the N rows"},
        {"softmax_ce_no_onehot", "the −1 at the target class is missing"}}},
      {"adam",
       {{"adam_no_bias_correction", "the bias correction is missing"},
        {"adam_eps_inside_sqrt", "eps is inside the square root"},
        {"adam_decoupled_decay", "weight decay applied as AdamW's decoupled decay"}}},
      {"attention",
       {{"attention_no_softmax_term", "the softmax's backward is missing its second term"},
        {"attention_no_scale", "dq and dk miss the 1/√E"},
        {"attention_mask_ignored", "the causal mask is ignored"}}},
      {"lnlstm",
       {{"lnlstm_no_dc_next", "the dc from the next step is left out"},
        {"lnlstm_ln_c_as_scale", "LN_c's backward is dz·γ_c·rstd alone"},
        {"lnlstm_dc_prev_without_f", "dc_prev = dc_total·f"}}},
  };
  size_t files = 0;
  for (const auto& [name, list] : wrongs) {
    if (name != exercise) continue;
    for (const Wrong& w : list) {
      ++files;
      INFO(w.file);
      const Run run = grade(exercise + " " + path(std::string("tests/grade/wrong/") + w.file + ".cpp"));
      INFO(run.out);
      CHECK(run.exit_code == 1);
      CHECK(count(run.out, "FAIL") >= 1);
      CHECK(has_diagnosis(run.out, w.diagnosis));
      CHECK(run.out.find("worst element") != std::string::npos);
      CHECK(run.out.find("no known shape of error") == std::string::npos);  // none left unexplained
    }
  }
  CHECK(files >= 2);
}

}  // namespace

TEST_CASE("normlab-grade: typical wrong answers to layernorm fail with their diagnosis", "[grade]") {
  check_wrong_answers("layernorm");
}
TEST_CASE("normlab-grade: typical wrong answers to batchnorm fail with their diagnosis", "[grade]") {
  check_wrong_answers("batchnorm");
}
TEST_CASE("normlab-grade: typical wrong answers to rmsnorm fail with their diagnosis", "[grade]") {
  check_wrong_answers("rmsnorm");
}
TEST_CASE("normlab-grade: typical wrong answers to groupnorm fail with their diagnosis", "[grade]") {
  check_wrong_answers("groupnorm");
}
TEST_CASE("normlab-grade: typical wrong answers to softmax_ce fail with their diagnosis", "[grade]") {
  check_wrong_answers("softmax_ce");
}
TEST_CASE("normlab-grade: typical wrong answers to adam fail with their diagnosis", "[grade]") {
  check_wrong_answers("adam");
}
TEST_CASE("normlab-grade: typical wrong answers to attention fail with their diagnosis", "[grade]") {
  check_wrong_answers("attention");
}

TEST_CASE("normlab-grade: typical wrong answers to lnlstm fail with their diagnosis", "[grade]") {
  check_wrong_answers("lnlstm");
}

TEST_CASE("normlab-grade: a syntax error is a compile error with the compiler's message", "[grade]") {
  const Run run = grade("layernorm " + path("tests/grade/wrong/layernorm_syntax_error.cpp"));
  INFO(run.out);
  CHECK(run.exit_code == 2);
  CHECK(run.out.find("COMPILE ERROR: ") != std::string::npos);
  CHECK(run.out.find("layernorm_syntax_error.cpp:") != std::string::npos);
  CHECK(run.out.find("error: expected") != std::string::npos);  // the compiler's message (its quotes follow the locale)
  CHECK(count(run.out, "PASS") + count(run.out, "FAIL") == 0);
}

TEST_CASE("normlab-grade: a crash in the student's code is reported, not suffered", "[grade]") {
  const Run run = grade("layernorm " + path("tests/grade/wrong/layernorm_out_of_bounds.cpp"));
  INFO(run.out);
  CHECK(run.exit_code == 3);
  CHECK(run.out.find("CRASH: ") != std::string::npos);
  CHECK(run.out.find("PASS  layernorm_forward y") != std::string::npos);  // the checks before the crash are shown
}

TEST_CASE("normlab-grade: bad usage and a missing function are named", "[grade]") {
  Run run = grade("softmax " + path("exercises/layernorm.cpp"));
  CHECK(run.exit_code == 64);
  CHECK(run.out.find("no exercise named 'softmax'") != std::string::npos);
  run = grade("layernorm " + path("tests/grade/no_such_file.cpp"));
  CHECK(run.exit_code == 64);
  run = grade("--list");
  CHECK(run.exit_code == 0);
  for (const char* exercise : kExercises) CHECK(run.out.find(exercise) != std::string::npos);
  // the rmsnorm solution handed in as layernorm defines neither function
  run = grade("layernorm " + path("exercises/solutions/rmsnorm.cpp"));
  INFO(run.out);
  CHECK(run.exit_code == 1);
  CHECK(run.out.find("the file does not define layernorm_forward") != std::string::npos);
}

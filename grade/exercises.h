#pragma once
// The exercises normlab-grade knows: each one's name, its API header (grade/api/),
// and the function that loads the student's functions and runs the checks.
#include <dlfcn.h>

#include <string>
#include <vector>

#include "grade/grader.h"

namespace nl::grade {

struct Exercise {
  const char* name;
  const char* summary;
  const char* api_header;  // in grade/api/
  // Loads the functions from the student's shared object and runs every
  // check; failures are reported through the grader.
  void (*run)(void* library, Grader& grader);
};
const std::vector<Exercise>& exercises();

void run_layernorm(void* library, Grader& grader);
void run_batchnorm(void* library, Grader& grader);
void run_rmsnorm(void* library, Grader& grader);
void run_groupnorm(void* library, Grader& grader);
void run_softmax_ce(void* library, Grader& grader);
void run_adam(void* library, Grader& grader);
void run_attention(void* library, Grader& grader);
void run_lnlstm(void* library, Grader& grader);

// The student's function `name`, or nullptr after reporting it missing.
template <typename F>
F* load(void* library, const char* name, Grader& grader) {
  void* p = dlsym(library, name);
  if (!p)
    grader.fail(std::string(name),
                std::string("the file does not define ") + name +
                    " with the exercise's signature (keep the parameter list as the exercise gives it)");
  return reinterpret_cast<F*>(p);
}

// One case of an exercise: its shape and how its inputs are drawn.
struct Case {
  int rows, cols;  // N and D (LayerNorm, RMSNorm) or N and C (BatchNorm)
  double offset;   // added to every x: large means test the numerics
  double eps;
  const char* note;  // "one row", ...
};
std::string case_text(const Case& c, const char* rows_name, const char* cols_name);

}  // namespace nl::grade

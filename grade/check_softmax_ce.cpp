// The softmax_ce exercise's checks: the loss against nl::cross_entropy, dlogits
// against nl::cross_entropy with autograd and against central differences of
// it in float64; on shapes with one row, two classes, odd sizes, logits around
// 1000 (where exp overflows unless the row's max is subtracted) and 100 classes.
#include <fmt/core.h>

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "grade/api/softmax_ce.h"
#include "grade/exercises.h"

namespace nl::grade {

namespace {

const char* const kOverflow =
    "exp overflowed (exp(z) is inf above z ≈ 709): subtract the row's max from every logit before exp; softmax does "
    "not change when one number is subtracted from a whole row";
const char* const kNoMean = "the loss is the mean over the N rows: divide by N (and so does every element of dlogits)";
const char* const kNoOneHot =
    "the −1 at the target class is missing: ∂loss/∂z_ik = (p_ik − [k = target_i]) / N, not p_ik / N";

Tensor t(const Vec& v, Shape s) { return from_vector<double>(v, s); }

Tensor targets_tensor(const std::vector<int>& targets) {
  return from_vector<int64_t>(std::vector<int64_t>(targets.begin(), targets.end()), {int64_t(targets.size())});
}

// dlogits for variants: (p − onehot·with_onehot) · scale
Vec softmax_grad(const Vec& z, const std::vector<int>& targets, int N, int K, bool with_onehot, double scale) {
  Vec g(z.size());
  for (int i = 0; i < N; ++i) {
    double max = z[size_t(i) * K];
    for (int k = 1; k < K; ++k) max = std::fmax(max, z[size_t(i) * K + k]);
    double sum = 0;
    for (int k = 0; k < K; ++k) sum += std::exp(z[size_t(i) * K + k] - max);
    for (int k = 0; k < K; ++k)
      g[size_t(i) * K + k] =
          (std::exp(z[size_t(i) * K + k] - max) / sum - (with_onehot && k == targets[size_t(i)] ? 1.0 : 0.0)) * scale;
  }
  return g;
}

}  // namespace

void run_softmax_ce(void* library_handle, Grader& grader) {
  auto* student = load<decltype(softmax_cross_entropy)>(library_handle, "softmax_cross_entropy", grader);
  if (!student) return;
  struct LogitCase {
    int N, K;
    double offset, scale;
    const char* note;
  };
  const LogitCase cases[] = {
      {4, 5, 0.0, 2.0, "small"}, {1, 7, 0.0, 2.0, "one row"},          {6, 2, 0.0, 2.0, "two classes"},
      {7, 13, 0.5, 3.0, "odd"},  {5, 10, 1000.0, 3.0, "logits ~1000"}, {32, 100, 0.0, 2.0, "100 classes"},
  };
  std::mt19937_64 rng(2312);
  for (const LogitCase& c : cases) {
    const int N = c.N, K = c.K;
    const size_t nk = size_t(N) * K;
    const std::string text = fmt::format("N={} K={}, {}", N, K, c.note);
    const Vec z = normal(rng, nk, c.offset, c.scale);
    std::vector<int> targets = std::vector<int>(size_t(N));
    std::uniform_int_distribution<int> pick(0, K - 1);
    for (int& target : targets) target = pick(rng);

    Tensor zt = t(z, {N, K});
    zt.requires_grad_();
    Tensor loss_t = cross_entropy(zt, targets_tensor(targets));
    loss_t.backward();
    const double lib_loss = loss_t.item<double>();
    const Vec lib_dz = zt.grad().to_vector<double>();

    Vec dz = unwritten(nk);
    const double loss = student(z.data(), targets.data(), N, K, dz.data());
    grader.run({"softmax_cross_entropy",
                "loss",
                "nl::cross_entropy",
                text,
                {1},
                1e-7,
                {lib_loss},
                {loss},
                {{kNoMean, {lib_loss * N}}, {"the loss is −log p (positive): the minus sign is missing", {-lib_loss}}},
                nullptr,
                kOverflow});
    const std::vector<Variant> dz_variants = {
        {kNoMean, softmax_grad(z, targets, N, K, true, 1.0)},
        {kNoOneHot, softmax_grad(z, targets, N, K, false, 1.0 / N)},
    };
    grader.run({"softmax_cross_entropy",
                "dlogits",
                "nl::cross_entropy + autograd",
                text,
                {N, K},
                1e-7,
                lib_dz,
                dz,
                dz_variants,
                nullptr,
                kOverflow});
    if (nk <= 128 && c.offset < 100) {
      const Vec num_dz = numeric_gradient(
          [&](const Vec& v) {
            NoGradGuard no_grad;
            return cross_entropy(t(v, {N, K}), targets_tensor(targets)).item<double>();
          },
          z);
      grader.run({"softmax_cross_entropy",
                  "dlogits",
                  "central differences",
                  text,
                  {N, K},
                  1e-5,
                  num_dz,
                  dz,
                  dz_variants,
                  nullptr,
                  kOverflow});
    }
  }
}

}  // namespace nl::grade

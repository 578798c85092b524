// The attention exercise's checks: attention_backward against
// nl::scaled_dot_product_attention with autograd and against central
// differences of it in float64; with one query, one key (p = 1: dq = dk = 0),
// the causal mask, scores in the hundreds (exp overflows without the row's
// max) and L ≠ S.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "grade/api/attention.h"
#include "grade/exercises.h"

namespace nl::grade {

namespace {

struct Dims {
  int L, S, E, Ev;
  bool causal;
};

struct Mistakes {
  bool no_softmax_term = false;  // ds = p·dp
  bool no_scale = false;         // dq, dk without 1/√E
  bool mask_ignored = false;     // p over every key
  bool dk_from_k = false;        // dk = dsᵀ·k (wrong operand)
};
struct Grads {
  Vec dq, dk, dv;
};
Grads plain_attention(const Dims& d, const Vec& q, const Vec& k, const Vec& v, const Vec& dout, Mistakes w) {
  const double scale = 1 / std::sqrt(double(d.E));
  Vec p(size_t(d.L) * d.S), ds(size_t(d.L) * d.S);
  for (int i = 0; i < d.L; ++i) {
    const int keys = d.causal && !w.mask_ignored ? std::min(i + 1, d.S) : d.S;
    double max = -INFINITY, sum = 0;
    for (int j = 0; j < keys; ++j) {
      double s = 0;
      for (int e = 0; e < d.E; ++e) s += q[size_t(i) * d.E + e] * k[size_t(j) * d.E + e];
      p[size_t(i) * d.S + j] = s * scale;
      max = std::fmax(max, p[size_t(i) * d.S + j]);
    }
    for (int j = 0; j < d.S; ++j) {
      p[size_t(i) * d.S + j] = j < keys ? std::exp(p[size_t(i) * d.S + j] - max) : 0.0;
      sum += p[size_t(i) * d.S + j];
    }
    double row = 0;
    for (int j = 0; j < d.S; ++j) {
      p[size_t(i) * d.S + j] /= sum;
      double dp = 0;
      for (int c = 0; c < d.Ev; ++c) dp += dout[size_t(i) * d.Ev + c] * v[size_t(j) * d.Ev + c];
      ds[size_t(i) * d.S + j] = dp;
      row += p[size_t(i) * d.S + j] * dp;
    }
    for (int j = 0; j < d.S; ++j)
      ds[size_t(i) * d.S + j] = p[size_t(i) * d.S + j] * (ds[size_t(i) * d.S + j] - (w.no_softmax_term ? 0 : row));
  }
  Grads g{Vec(size_t(d.L) * d.E), Vec(size_t(d.S) * d.E), Vec(size_t(d.S) * d.Ev)};
  const double s = w.no_scale ? 1.0 : scale;
  for (int i = 0; i < d.L; ++i)
    for (int j = 0; j < d.S; ++j) {
      const double pij = p[size_t(i) * d.S + j], dsij = ds[size_t(i) * d.S + j];
      for (int c = 0; c < d.Ev; ++c) g.dv[size_t(j) * d.Ev + c] += pij * dout[size_t(i) * d.Ev + c];
      for (int e = 0; e < d.E; ++e) {
        g.dq[size_t(i) * d.E + e] += dsij * k[size_t(j) * d.E + e] * s;
        g.dk[size_t(j) * d.E + e] += dsij * (w.dk_from_k ? k[size_t(j) * d.E + e] : q[size_t(i) * d.E + e]) * s;
      }
    }
  return g;
}

Tensor t(const Vec& v, int64_t rows, int64_t cols) { return from_vector<double>(v, {rows, cols}); }

}  // namespace

void run_attention(void* library_handle, Grader& grader) {
  auto* student = load<decltype(attention_backward)>(library_handle, "attention_backward", grader);
  if (!student) return;
  struct AttentionCase {
    Dims d;
    double scale;
    const char* note;
  };
  const AttentionCase cases[] = {
      {{4, 5, 3, 2, false}, 1.0, "small"},         {{1, 6, 4, 4, false}, 1.0, "one query"},
      {{5, 1, 3, 2, false}, 1.0, "one key"},       {{7, 7, 8, 5, true}, 1.0, "odd"},
      {{6, 4, 4, 3, false}, 25.0, "scores ~1000"}, {{16, 16, 32, 16, true}, 1.0, "wide"},
  };
  const char* const kNoSoftmaxTerm =
      "the softmax's backward is missing its second term: ds_ij = p_ij·(dp_ij − Σ_j' p_ij'·dp_ij'), not p_ij·dp_ij "
      "(every p of a row depends on every score of the row)";
  const char* const kNoScale = "dq and dk miss the 1/√E: the scores are q·kᵀ/√E, so ds carries 1/√E into dq and dk";
  const char* const kMaskIgnored = "the causal mask is ignored: with causal, keys j > i get p_ij = 0";
  const char* const kDkFromK = "dk = dsᵀ·q/√E: each key's gradient comes from the queries, not from k itself";
  const char* const kOverflow =
      "exp overflowed: subtract each row's max score before exp (softmax does not change when one number is "
      "subtracted from a whole row)";
  std::mt19937_64 rng(2017);
  for (const AttentionCase& c : cases) {
    const Dims& d = c.d;
    const std::string text =
        fmt::format("L={} S={} E={} Ev={}{}, {}", d.L, d.S, d.E, d.Ev, d.causal ? " causal" : "", c.note);
    const Vec q = normal(rng, size_t(d.L) * d.E, 0.0, c.scale), k = normal(rng, size_t(d.S) * d.E, 0.0, c.scale);
    const Vec v = normal(rng, size_t(d.S) * d.Ev), dout = normal(rng, size_t(d.L) * d.Ev);
    Tensor qt = t(q, d.L, d.E), kt = t(k, d.S, d.E), vt = t(v, d.S, d.Ev);
    qt.requires_grad_();
    kt.requires_grad_();
    vt.requires_grad_();
    scaled_dot_product_attention(qt, kt, vt, Tensor(), d.causal).backward(t(dout, d.L, d.Ev));
    const Grads lib{qt.grad().to_vector<double>(), kt.grad().to_vector<double>(), vt.grad().to_vector<double>()};

    Grads got{unwritten(q.size()), unwritten(k.size()), unwritten(v.size())};
    student(q.data(), k.data(), v.data(), dout.data(), d.L, d.S, d.E, d.Ev, d.causal ? 1 : 0, got.dq.data(),
            got.dk.data(), got.dv.data());
    auto variant = [&](Mistakes w) { return plain_attention(d, q, k, v, dout, w); };
    const Grads no_term = variant({.no_softmax_term = true}), no_scale = variant({.no_scale = true}),
                no_mask = variant({.mask_ignored = true}), dk_k = variant({.dk_from_k = true});
    grader.run({"attention_backward",
                "dq",
                "nl::scaled_dot_product_attention",
                text,
                {d.L, d.E},
                1e-7,
                lib.dq,
                got.dq,
                {{kNoSoftmaxTerm, no_term.dq}, {kNoScale, no_scale.dq}, {kMaskIgnored, no_mask.dq}},
                nullptr,
                kOverflow});
    grader.run(
        {"attention_backward",
         "dk",
         "nl::scaled_dot_product_attention",
         text,
         {d.S, d.E},
         1e-7,
         lib.dk,
         got.dk,
         {{kNoSoftmaxTerm, no_term.dk}, {kNoScale, no_scale.dk}, {kMaskIgnored, no_mask.dk}, {kDkFromK, dk_k.dk}},
         nullptr,
         kOverflow});
    grader.run({"attention_backward",
                "dv",
                "nl::scaled_dot_product_attention",
                text,
                {d.S, d.Ev},
                1e-7,
                lib.dv,
                got.dv,
                {{kMaskIgnored, no_mask.dv}},
                nullptr,
                kOverflow});
    if (q.size() + k.size() + v.size() <= 160 && c.scale < 10) {
      auto loss = [&](const Vec& qq, const Vec& kk, const Vec& vv) {
        NoGradGuard no_grad;
        return dot(dout,
                   scaled_dot_product_attention(t(qq, d.L, d.E), t(kk, d.S, d.E), t(vv, d.S, d.Ev), Tensor(), d.causal)
                       .to_vector<double>());
      };
      grader.run({"attention_backward",
                  "dq",
                  "central differences",
                  text,
                  {d.L, d.E},
                  1e-5,
                  numeric_gradient([&](const Vec& x) { return loss(x, k, v); }, q),
                  got.dq,
                  {{kNoSoftmaxTerm, no_term.dq}, {kNoScale, no_scale.dq}, {kMaskIgnored, no_mask.dq}},
                  nullptr,
                  kOverflow});
      grader.run({"attention_backward",
                  "dk",
                  "central differences",
                  text,
                  {d.S, d.E},
                  1e-5,
                  numeric_gradient([&](const Vec& x) { return loss(q, x, v); }, k),
                  got.dk,
                  {{kNoSoftmaxTerm, no_term.dk}, {kNoScale, no_scale.dk}, {kMaskIgnored, no_mask.dk}},
                  nullptr,
                  kOverflow});
    }
  }
}

}  // namespace nl::grade

// A typical wrong answer to the attention exercise, for tests/grade/test_grade.cpp:
// the causal mask ignored in the recomputed softmax.
// Exercise: scaled dot-product attention, the backward.
// Grade it with:  build/bin/normlab-grade attention THIS_FILE.cpp
//
// One head, row-major: q is L queries of E features (q[i*E + e]), k is S keys
// of E, v is S values of Ev. The forward, as
// torch.nn.functional.scaled_dot_product_attention:
//
//   s_ij   = Σ_e q_ie · k_je / √E                  (L×S scores)
//   p_ij   = exp(s_ij) / Σ_j' exp(s_ij')           (softmax over the keys j;
//            with causal, keys j > i are blocked: p_ij = 0 and they leave the sum)
//   out_ic = Σ_j p_ij · v_jc                       (L×Ev)
//
// Backward: given dout = ∂L/∂out, write dq, dk and dv. Recompute s and p
// first (the grader gives you only the inputs). Work from the output back:
// dv, then dp, then the softmax's backward (ds), then dq and dk. Scores can be
// large: subtract each row's max before exp.
//
// Only the standard library and plain loops are needed. Keep the signature as it is.
#include <algorithm>
#include <cmath>
#include <vector>

void attention_backward(const double* q, const double* k, const double* v, const double* dout, int L, int S, int E,
                        int Ev, int causal, double* dq, double* dk, double* dv) {
  // BEGIN SOLUTION: compute dq, dk and dv
  const double scale = 1.0 / std::sqrt(double(E));
  std::vector<double> p(size_t(L) * S), ds(size_t(L) * S);
  for (int i = 0; i < L; ++i) {
    const int keys = S;  // keys 0 .. keys−1 are visible
    double max = -INFINITY, sum = 0;
    for (int j = 0; j < keys; ++j) {
      double s = 0;
      for (int e = 0; e < E; ++e) s += q[i * E + e] * k[j * E + e];
      p[i * S + j] = s * scale;
      max = std::fmax(max, p[i * S + j]);
    }
    for (int j = 0; j < S; ++j) {
      p[i * S + j] = j < keys ? std::exp(p[i * S + j] - max) : 0.0;
      sum += p[i * S + j];
    }
    for (int j = 0; j < S; ++j) p[i * S + j] /= sum;
    // dp_ij = Σ_c dout_ic · v_jc;  ds_ij = p_ij · (dp_ij − Σ_j' p_ij' · dp_ij')
    double row = 0;
    for (int j = 0; j < S; ++j) {
      double dp = 0;
      for (int c = 0; c < Ev; ++c) dp += dout[i * Ev + c] * v[j * Ev + c];
      ds[i * S + j] = dp;
      row += p[i * S + j] * dp;
    }
    for (int j = 0; j < S; ++j) ds[i * S + j] = p[i * S + j] * (ds[i * S + j] - row);
  }
  // dv = pᵀ · dout;  dq = ds · k / √E;  dk = dsᵀ · q / √E
  for (int j = 0; j < S; ++j)
    for (int c = 0; c < Ev; ++c) {
      double a = 0;
      for (int i = 0; i < L; ++i) a += p[i * S + j] * dout[i * Ev + c];
      dv[j * Ev + c] = a;
    }
  for (int i = 0; i < L; ++i)
    for (int e = 0; e < E; ++e) {
      double a = 0;
      for (int j = 0; j < S; ++j) a += ds[i * S + j] * k[j * E + e];
      dq[i * E + e] = a * scale;
    }
  for (int j = 0; j < S; ++j)
    for (int e = 0; e < E; ++e) {
      double a = 0;
      for (int i = 0; i < L; ++i) a += ds[i * S + j] * q[i * E + e];
      dk[j * E + e] = a * scale;
    }
  // END SOLUTION
}

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
  // TODO: compute dq, dk and dv
}

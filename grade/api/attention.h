#pragma once
// The function of the attention exercise (exercises/attention.cpp), on plain
// row-major arrays of double. normlab-grade compiles a student's file with
// `-include` of this header (see layernorm.h).
extern "C" {
// One head of scaled dot-product attention: q (L×E), k (S×E), v (S×Ev);
// causal != 0 blocks keys j > i for query i. Given dout (L×Ev), the gradient of
// the output, writes dq (L×E), dk (S×E) and dv (S×Ev).
void attention_backward(const double* q, const double* k, const double* v, const double* dout, int L, int S, int E,
                        int Ev, int causal, double* dq, double* dk, double* dv);
}

#pragma once
// The functions of the layernorm exercise (exercises/layernorm.cpp), on plain
// row-major arrays of double. normlab-grade compiles a student's file with
// `-include` of this header, so the definitions get these C names and the
// grader can load them; a changed signature is reported, not guessed at.
extern "C" {
// x: N rows of D. Writes y (N·D), mean (N) and rstd (N) = 1/√(var + eps).
void layernorm_forward(const double* x, const double* gamma, const double* beta, int N, int D, double eps, double* y,
                       double* mean, double* rstd);
// dy, x: N·D; mean, rstd: N (those of the forward). Writes dx (N·D), dgamma (D), dbeta (D).
void layernorm_backward(const double* dy, const double* x, const double* gamma, const double* mean, const double* rstd,
                        int N, int D, double* dx, double* dgamma, double* dbeta);
}
